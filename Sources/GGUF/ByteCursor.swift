/// Bounds-checked little-endian reads over the mapped file. Every read checks
/// the remaining length first, so a truncated or lying file is an error, not a crash.
struct ByteCursor {
    let base: UnsafeRawPointer
    let size: Int
    private(set) var offset: Int = 0

    init(base: UnsafeRawPointer, size: Int) {
        self.base = base
        self.size = size
    }

    var remaining: Int { size - offset }

    mutating func need(_ count: Int) throws(GGUFError) {
        if count < 0 || count > remaining { throw .truncated(needed: count, at: offset, fileSize: size) }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type) throws(GGUFError) -> T {
        try need(MemoryLayout<T>.size)
        let value = base.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: value)
    }

    mutating func readFloat() throws(GGUFError) -> Float { Float(bitPattern: try read(UInt32.self)) }
    mutating func readDouble() throws(GGUFError) -> Double { Double(bitPattern: try read(UInt64.self)) }

    /// A count that must be backed by at least `minBytesEach` bytes per item still in the file.
    mutating func readCount(_ what: String, minBytesEach: Int) throws(GGUFError) -> Int {
        let raw = try read(UInt64.self)
        guard raw <= UInt64(remaining / max(minBytesEach, 1)) else { throw .absurdSize(what: what, value: raw) }
        return Int(raw)
    }

    mutating func readString() throws(GGUFError) -> String {
        let length = try readCount("string length", minBytesEach: 1)
        let start = offset
        let bytes = UnsafeRawBufferPointer(start: base + offset, count: length)
        offset += length
        guard let string = String(validating: bytes, as: UTF8.self) else { throw .invalidUTF8(at: start) }
        return string
    }

    mutating func align(to alignment: Int) {
        offset = (offset + alignment - 1) / alignment * alignment
    }
}
