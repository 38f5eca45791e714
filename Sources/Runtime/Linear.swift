import CBLAS
import GGUF

/// A weight matrix of `outputs` rows × `inputs` columns (ggml shape
/// [inputs, outputs]) with an optional bias, applied as y = x·Wᵀ + b.
///
/// A step's rows come in two groups, and which group a row is in depends on
/// what the row is, never on how many rows the step has (batch invariance):
/// - prompt rows go through OpenBLAS sgemm, one call per sequence block laid
///   out as `GemmTile` requires, unless every matrix of the model has an
///   integer kernel (`Model.integerRows`: measured faster even for 512 rows);
/// - generated rows go through our own row kernels: integer dot products
///   with 8-bit activations on quantised weights (`Repacked`; per-row Q4_1/Q8_0
///   kernels when the rows are not a multiple of 8), F32 FMA chains otherwise.
/// Both split the output rows across the worker pool in fixed slices, with
/// OpenBLAS kept to one thread.
final class Linear: @unchecked Sendable {  // immutable after load
    let name: String
    let inputs: Int
    let outputs: Int
    let bias: [Float]?
    private let storage: Storage

    enum Storage {
        /// Row-major F32 weights owned by this object.
        case full(UnsafeMutablePointer<Float>)
        /// Quantised rows inside the file mapping.
        case quantized(UnsafeRawPointer, GGMLType, rowBytes: Int)
        /// Rows repacked eight at a time (`Repacked`), owned by this object.
        case repacked(UnsafeMutableRawPointer, GGMLType)
    }

    /// Rows dequantised per sgemm panel in native precision: 256 × 576
    /// floats (590 KB) stay in cache while sgemm consumes them.
    static let panelRows = 256

    init(file: GGUFFile, name: String, inputs: Int, outputs: Int, precision: Precision, biasName: String? = nil) throws(ModelError) {
        guard let tensor = file.tensor(named: name) else { throw .missingTensor(name) }
        guard tensor.shape == [inputs, outputs] else { throw .wrongShape(tensor: name, expected: [inputs, outputs], found: tensor.shape) }
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        let bytes = file.bytes(of: tensor).baseAddress!
        switch precision {
        case .full:
            let weights = UnsafeMutablePointer<Float>.allocate(capacity: inputs * outputs)
            Dequantize.run(tensor.type, from: bytes, to: weights, count: inputs * outputs)
            storage = .full(weights)
        case .native where outputs % 8 == 0 && Repacked.supports(tensor.type):
            storage = .repacked(Repacked.repack(tensor.type, bytes, outputs: outputs, inputs: inputs), tensor.type)
            file.release(tensor)  // the copy replaces the file's pages
        case .native:
            storage = .quantized(bytes, tensor.type, rowBytes: tensor.type.byteCount(elements: inputs))
        }
        if let biasName, let b = file.tensor(named: biasName) {
            guard b.shape == [outputs] else { throw .wrongShape(tensor: biasName, expected: [outputs], found: b.shape) }
            bias = file.floats(of: b)
        } else {
            bias = nil
        }
    }

    deinit {
        switch storage {
        case .full(let w): w.deallocate()
        case .repacked(let packed, _): packed.deallocate()
        case .quantized: break
        }
    }

    /// Bytes of weights a product with one row reads: the whole matrix.
    var weightBytes: Int {
        switch storage {
        case .full: inputs * outputs * MemoryLayout<Float>.size
        case .quantized(_, _, let rowBytes): rowBytes * outputs
        case .repacked(_, let type): Repacked.bytes(type, inputs: inputs, outputs: outputs)
        }
    }

    /// The memory a product with one row reads.
    var weightRegion: UnsafeRawBufferPointer {
        switch storage {
        case .full(let w): UnsafeRawBufferPointer(start: w, count: weightBytes)
        case .quantized(let base, _, _): UnsafeRawBufferPointer(start: base, count: weightBytes)
        case .repacked(let packed, _): UnsafeRawBufferPointer(start: packed, count: weightBytes)
        }
    }

    /// Every row of this matrix can go through the integer kernels (8-bit activations).
    var hasIntegerKernel: Bool {
        switch storage {
        case .quantized(_, let type, _): Q8Activations.supports(type)
        case .repacked: true
        case .full: false
        }
    }

    /// The repacked weights and their type, if this matrix is repacked for the eight-row kernels.
    var repacked: (UnsafeRawPointer, GGMLType)? {
        if case .repacked(let packed, let type) = storage { (UnsafeRawPointer(packed), type) } else { nil }
    }

    /// Scratch floats one pool thread needs for `apply`.
    var scratchPerThread: Int { if case .full = storage { 0 } else { Self.panelRows * inputs } }

    /// y[r, outputs] = x[r, inputs] · Wᵀ (+ bias) for the rows of `layout`:
    /// each gemm block in one sgemm call, the kernel rows with our kernels.
    func apply(_ x: UnsafePointer<Float>, layout: RowLayout, into y: UnsafeMutablePointer<Float>, scratch: LinearScratch) {
        var quantized = SharedInput()
        let product = prepare(x, layout: layout, into: y, scratch: scratch, quantized: &quantized)
        WorkerPool.shared.run(Applies(first: product, second: nil, third: nil))
        addBias(rows: layout.rowCount, y)
    }

    /// `apply` for matrices that share their input (q, k, v; gate, up): one
    /// pool handoff for all of them, each part taking its slice of each, and
    /// the input quantised once per grouping the matrices take.
    static func apply(_ x: UnsafePointer<Float>, layout: RowLayout, _ products: (Linear, UnsafeMutablePointer<Float>),
                      _ more: (Linear, UnsafeMutablePointer<Float>), _ last: (Linear, UnsafeMutablePointer<Float>)? = nil,
                      scratch: LinearScratch) {
        var quantized = SharedInput()
        func prepared(_ p: (Linear, UnsafeMutablePointer<Float>)) -> Apply {
            p.0.prepare(x, layout: layout, into: p.1, scratch: scratch, quantized: &quantized)
        }
        WorkerPool.shared.run(Applies(first: prepared(products), second: prepared(more), third: last.map(prepared)))
        products.0.addBias(rows: layout.rowCount, products.1)
        more.0.addBias(rows: layout.rowCount, more.1)
        if let last { last.0.addBias(rows: layout.rowCount, last.1) }
    }

    /// The kernel rows of one input, quantised by the first matrix that needed each grouping.
    private struct SharedInput {
        var blocks: Q8Activations?, superBlocks: Q8Activations?
    }

    /// The grouping of 8-bit activations this matrix's integer kernels take.
    var activationGrouping: Q8Activations.Grouping {
        if case .repacked(_, let type) = storage { Q8Activations.grouping(forRepacked: type) } else { .blocks }
    }

    /// The job for y = x·Wᵀ, the kernel rows quantised first (once, before the pool splits the outputs).
    private func prepare(_ x: UnsafePointer<Float>, layout: RowLayout, into y: UnsafeMutablePointer<Float>, scratch: LinearScratch,
                         quantized: inout SharedInput) -> Apply {
        var activations: Q8Activations?
        if hasIntegerKernel, !layout.kernelRows.isEmpty {
            let grouping = activationGrouping
            activations = grouping == .blocks ? quantized.blocks : quantized.superBlocks
            if activations == nil {
                activations = Q8Activations(x + layout.kernelRows.lowerBound * inputs, rows: layout.kernelRows.count, inputs: inputs,
                                            grouping: grouping, buffer: scratch.activations(grouping))
                if grouping == .blocks { quantized.blocks = activations } else { quantized.superBlocks = activations }
            }
        }
        return Apply(linear: self, x: x, layout: layout, y: y, scratch: scratch, activations: activations)
    }

    private func addBias(rows: Int, _ y: UnsafeMutablePointer<Float>) {
        guard let bias else { return }
        for r in 0..<rows {
            let row = y + r * outputs
            for j in 0..<outputs { row[j] += bias[j] }
        }
    }

    /// Up to three products in one pool job. sgemm blocks are split in fixed
    /// halves; our kernels' outputs in chunks the parts claim as they go (an
    /// output's result does not depend on which thread computes it), so a
    /// part that runs slower, e.g. on a busier memory channel, takes fewer.
    private struct Applies: PoolJob {
        let first: Apply, second: Apply?, third: Apply?

        func run(part: Int, of parts: Int) {
            first.gemmSlice(part: part, of: parts)
            second?.gemmSlice(part: part, of: parts)
            third?.gemmSlice(part: part, of: parts)
            let counts = (first.kernelChunks, second?.kernelChunks ?? 0, third?.kernelChunks ?? 0)
            let total = counts.0 + counts.1 + counts.2
            while true {
                let claimed = WorkerPool.shared.claim(of: total)
                if claimed.isEmpty { return }
                for chunk in claimed {
                    if chunk < counts.0 {
                        first.kernelChunk(chunk)
                    } else if chunk < counts.0 + counts.1 {
                        second!.kernelChunk(chunk - counts.0)
                    } else {
                        third!.kernelChunk(chunk - counts.0 - counts.1)
                    }
                }
            }
        }
    }

    /// One pool part's share of `apply`: a slice of the outputs for every row.
    /// One product's work: sgemm blocks in fixed slices, kernel rows in chunks of outputs.
    private struct Apply {
        let linear: Linear, x: UnsafePointer<Float>, layout: RowLayout, y: UnsafeMutablePointer<Float>
        let scratch: LinearScratch, activations: Q8Activations?
        /// Outputs per kernel chunk: whole groups of 8 for the repacked kernels.
        static let chunkOutputs = 128

        func gemmSlice(part: Int, of parts: Int) {
            guard !layout.gemmBlocks.isEmpty else { return }
            let outputs = linear.outputs
            let groups = WorkerPool.slice((outputs + 7) / 8, part: part, of: parts)
            let slice = min(groups.lowerBound * 8, outputs)..<min(groups.upperBound * 8, outputs)
            guard !slice.isEmpty else { return }
            for block in layout.gemmBlocks {
                linear.gemm(x + block.lowerBound * linear.inputs, rows: block.count, outputs: slice,
                            y: y + block.lowerBound * outputs, panel: scratch.panels + part * linear.scratchPerThread)
            }
        }

        var kernelChunks: Int { layout.kernelRows.isEmpty ? 0 : (linear.outputs + Self.chunkOutputs - 1) / Self.chunkOutputs }

        func kernelChunk(_ chunk: Int) {
            let outputs = chunk * Self.chunkOutputs..<min((chunk + 1) * Self.chunkOutputs, linear.outputs)
            linear.kernel(x + layout.kernelRows.lowerBound * linear.inputs, activations, rows: layout.kernelRows.count,
                          outputs: outputs, y: y + layout.kernelRows.lowerBound * linear.outputs)
        }
    }

    private func gemm(_ x: UnsafePointer<Float>, rows m: Int, outputs slice: Range<Int>, y: UnsafeMutablePointer<Float>,
                      panel: UnsafeMutablePointer<Float>) {
        let k = Int32(inputs)
        switch storage {
        case .full(let w):
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(slice.count), k, 1, x, k,
                        w + slice.lowerBound * inputs, k, 0, y + slice.lowerBound, Int32(outputs))
        case .quantized, .repacked:
            var start = slice.lowerBound
            while start < slice.upperBound {
                let count = min(Self.panelRows, slice.upperBound - start)
                for r in 0..<count { row(start + r, into: panel + r * inputs) }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(count), k, 1, x, k,
                            panel, k, 0, y + start, Int32(outputs))
                start += count
            }
        }
    }

    private func kernel(_ x: UnsafePointer<Float>, _ activations: Q8Activations?, rows: Int, outputs slice: Range<Int>,
                        y: UnsafeMutablePointer<Float>) {
        switch storage {
        case .full(let w):
            RowKernels.multiply(inputs: inputs, outputs: slice, x: x, rows: rows, y: y, ldy: outputs) { o, _ in
                UnsafePointer(w + o * inputs)
            }
        case .repacked(let packed, let type):
            activations!.multiplyRepacked(type, packed, outputs: slice, rows: rows, y: y, ldy: outputs)
        case .quantized(let base, let type, let rowBytes) where activations != nil:
            activations!.multiply(type, weights: base, rowBytes: rowBytes, outputs: slice, rows: rows, y: y, ldy: outputs)
        case .quantized(let base, let type, let rowBytes):
            RowKernels.multiply(inputs: inputs, outputs: slice, x: x, rows: rows, y: y, ldy: outputs) { o, buffer in
                RowDequantize.run(type, from: base + o * rowBytes, to: buffer, count: inputs)
                return UnsafePointer(buffer)
            }
        }
    }

    /// Copies row `index` as F32 into `out` (an embedding lookup).
    func row(_ index: Int, into out: UnsafeMutablePointer<Float>) {
        switch storage {
        case .full(let w): out.update(from: w + index * inputs, count: inputs)
        case .quantized(let base, let type, let rowBytes): RowDequantize.run(type, from: base + index * rowBytes, to: out, count: inputs)
        case .repacked(let packed, let type): Repacked.dequantize(type, packed, blocks: inputs / 32, row: index, into: out)
        }
    }
}
