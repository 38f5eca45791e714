extension GGUFFile {
    /// Reads the header, metadata and tensor table, checking every size
    /// against what is left of the file before trusting it.
    enum Parser {
        static let magic: UInt32 = 0x4655_4747  // "GGUF" read little-endian
        static let maxDimensions = 4

        struct Parsed {
            var version: UInt32
            var metadata: [String: GGUFValue] = [:]
            var keys: [String] = []
            var tensors: [GGUFTensor] = []
            var alignment = 32
            var dataOffset = 0
        }

        static func parse(base: UnsafeRawPointer, size: Int) throws(GGUFError) -> Parsed {
            var cursor = ByteCursor(base: base, size: size)
            let found = try cursor.read(UInt32.self)
            guard found == magic else { throw .badMagic(found: found) }
            let version = try cursor.read(UInt32.self)
            guard version == 2 || version == 3 else { throw .unsupportedVersion(version) }
            var parsed = Parsed(version: version)

            // A tensor entry takes at least 8+4+8+4+8 bytes, a key/value at least 8+4+1.
            let tensorCount = try cursor.readCount("tensor count", minBytesEach: 32)
            let keyCount = try cursor.readCount("metadata count", minBytesEach: 13)

            for _ in 0..<keyCount {
                let key = try cursor.readString()
                let raw = try cursor.read(UInt32.self)
                let value = try readValue(type: raw, key: key, &cursor, depth: 0)
                guard parsed.metadata.updateValue(value, forKey: key) == nil else { throw .duplicateKey(key) }
                parsed.keys.append(key)
            }

            if let value = parsed.metadata["general.alignment"] {
                guard let a = value.int, a > 0, a & (a - 1) == 0, a <= 1 << 20 else {
                    throw .badAlignment(UInt64(truncatingIfNeeded: value.int ?? 0))
                }
                parsed.alignment = a
            }

            var infos: [(name: String, shape: [Int], type: GGMLType, offset: UInt64)] = []
            var names = Set<String>()
            for _ in 0..<tensorCount {
                let name = try cursor.readString()
                guard names.insert(name).inserted else { throw .duplicateTensor(name) }
                let dimCount = Int(try cursor.read(UInt32.self))
                guard (1...maxDimensions).contains(dimCount) else {
                    throw .absurdSize(what: "dimension count of tensor '\(name)'", value: UInt64(dimCount))
                }
                var dims: [UInt64] = []
                for _ in 0..<dimCount { dims.append(try cursor.read(UInt64.self)) }
                let rawType = try cursor.read(UInt32.self)
                guard let type = GGMLType(rawValue: rawType) else { throw .unknownTensorType(tensor: name, raw: rawType) }
                let offset = try cursor.read(UInt64.self)
                // Any real tensor has fewer elements than 2^40. The product
                // sticks at UInt64.max once it overflows (wrapping could bring it back under).
                let elements = dims.reduce(UInt64(1)) { product, dimension in
                    let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
                    return overflow ? .max : next
                }
                guard dims.allSatisfy({ $0 > 0 && $0 < 1 << 40 }), elements < 1 << 40,
                      dims[0] % UInt64(type.blockSize) == 0
                else { throw .badShape(tensor: name, shape: dims) }
                infos.append((name, dims.map { Int($0) }, type, offset))
            }

            cursor.align(to: parsed.alignment)
            parsed.dataOffset = cursor.offset
            for info in infos {
                guard info.offset % UInt64(parsed.alignment) == 0 else {
                    throw .misalignedTensor(tensor: info.name, offset: info.offset, alignment: parsed.alignment)
                }
                let bytes = info.type.byteCount(elements: info.shape.reduce(1, *))
                // Offsets are untrusted: add with overflow checks.
                let (start, o1) = UInt64(parsed.dataOffset).addingReportingOverflow(info.offset)
                let (end, o2) = start.addingReportingOverflow(UInt64(bytes))
                guard !o1, !o2, end <= UInt64(size) else {
                    throw .tensorOutOfBounds(tensor: info.name, end: o1 || o2 ? .max : end, fileSize: size)
                }
                parsed.tensors.append(GGUFTensor(name: info.name, shape: info.shape, type: info.type,
                                                 fileOffset: parsed.dataOffset + Int(info.offset), byteCount: bytes))
            }
            return parsed
        }

        /// Smallest encoding of one value of a type, to bound array counts.
        static func minimumBytes(of type: UInt32) -> Int {
            switch type {
            case 0, 1, 7: 1
            case 2, 3: 2
            case 4, 5, 6: 4
            case 8: 8        // length only
            case 9: 12       // element type + count
            default: 8
            }
        }

        static func readValue(type: UInt32, key: String, _ cursor: inout ByteCursor, depth: Int) throws(GGUFError) -> GGUFValue {
            switch type {
            case 0: return .uint8(try cursor.read(UInt8.self))
            case 1: return .int8(try cursor.read(Int8.self))
            case 2: return .uint16(try cursor.read(UInt16.self))
            case 3: return .int16(try cursor.read(Int16.self))
            case 4: return .uint32(try cursor.read(UInt32.self))
            case 5: return .int32(try cursor.read(Int32.self))
            case 6: return .float32(try cursor.readFloat())
            case 7:
                let byte = try cursor.read(UInt8.self)
                guard byte <= 1 else { throw .absurdSize(what: "bool value of '\(key)'", value: UInt64(byte)) }
                return .bool(byte == 1)
            case 8: return .string(try cursor.readString())
            case 9:
                guard depth < 8 else { throw .absurdSize(what: "array nesting depth of '\(key)'", value: UInt64(depth)) }
                let elementType = try cursor.read(UInt32.self)
                guard elementType <= 12 else { throw .unknownValueType(key: key, raw: elementType) }
                let count = try cursor.readCount("array length of '\(key)'", minBytesEach: minimumBytes(of: elementType))
                var elements: [GGUFValue] = []
                elements.reserveCapacity(count)
                for _ in 0..<count {
                    elements.append(try readValue(type: elementType, key: key, &cursor, depth: depth + 1))
                }
                return .array(elements)
            case 10: return .uint64(try cursor.read(UInt64.self))
            case 11: return .int64(try cursor.read(Int64.self))
            case 12: return .float64(try cursor.readDouble())
            default: throw .unknownValueType(key: key, raw: type)
            }
        }
    }
}
