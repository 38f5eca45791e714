#if canImport(Glibc)
import Glibc
#endif

/// One tensor of the file: its shape (innermost dimension first, as ggml
/// stores it), type and where its bytes are.
public struct GGUFTensor: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public let type: GGMLType
    /// Byte offset from the start of the file.
    public let fileOffset: Int
    public let byteCount: Int

    public var elementCount: Int { shape.reduce(1, *) }
    /// Length of one row (the innermost dimension).
    public var rowLength: Int { shape.first ?? 1 }
    public var rowCount: Int { elementCount / rowLength }
}

/// A GGUF v2/v3 file, memory-mapped read-only. Metadata and the tensor table
/// are parsed and checked at open; tensor bytes stay in the mapping and are
/// paged in on use.
public final class GGUFFile: @unchecked Sendable {  // immutable after init; the mapping lives as long as the object
    public let path: String
    public let version: UInt32
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// Tensors in file order.
    public let tensors: [GGUFTensor]
    public let alignment: Int
    /// Offset of the tensor data section from the start of the file.
    public let dataOffset: Int
    public let fileSize: Int

    private let base: UnsafeRawPointer
    private let tensorIndex: [String: Int]

    public init(path: String) throws(GGUFError) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .cannotOpen(path: path, reason: "not a regular file") }
        let size = Int(info.st_size)
        guard size >= 8 else { throw .truncated(needed: 8, at: 0, fileSize: size) }
        guard let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapping != MAP_FAILED else {
            throw .cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        do {
            let parsed = try Parser.parse(base: UnsafeRawPointer(mapping), size: size)
            self.path = path
            self.base = UnsafeRawPointer(mapping)
            self.fileSize = size
            self.version = parsed.version
            self.metadata = parsed.metadata
            self.metadataKeys = parsed.keys
            self.tensors = parsed.tensors
            self.alignment = parsed.alignment
            self.dataOffset = parsed.dataOffset
            self.tensorIndex = Dictionary(uniqueKeysWithValues: parsed.tensors.enumerated().map { ($1.name, $0) })
        } catch {
            munmap(mapping, size)
            throw error
        }
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), fileSize) }

    public func tensor(named name: String) -> GGUFTensor? { tensorIndex[name].map { tensors[$0] } }

    public func requireTensor(_ name: String) throws(GGUFError) -> GGUFTensor {
        guard let t = tensor(named: name) else { throw .missingTensor(name) }
        return t
    }

    /// The tensor's raw bytes inside the mapping (valid while this object lives).
    public func bytes(of tensor: GGUFTensor) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + tensor.fileOffset, count: tensor.byteCount)
    }

    /// Tells the kernel the tensor's pages are not needed (the caller copied
    /// what it needs): they leave the resident set, and are read again from
    /// the file only if touched. Only whole pages inside the tensor are dropped.
    public func release(_ tensor: GGUFTensor) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: base + tensor.fileOffset)
        let first = (start + page - 1) / page * page, end = (start + tensor.byteCount) / page * page
        guard end > first else { return }
        _ = madvise(UnsafeMutableRawPointer(bitPattern: first), end - first, MADV_DONTNEED)
    }

    /// The whole tensor dequantised to F32.
    public func floats(of tensor: GGUFTensor) -> [Float] {
        [Float](unsafeUninitializedCapacity: tensor.elementCount) { buffer, count in
            Dequantize.run(tensor.type, from: bytes(of: tensor).baseAddress!, to: buffer.baseAddress!, count: tensor.elementCount)
            count = tensor.elementCount
        }
    }
}
