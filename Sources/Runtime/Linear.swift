import CBLAS
import GGUF

/// A weight matrix of `outputs` rows × `inputs` columns (ggml shape
/// [inputs, outputs]) with an optional bias, applied as y = x·Wᵀ + b.
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
    }

    /// Rows dequantised per panel in native precision: 1024 × 576 floats
    /// (2.3 MB) stays near the caches while sgemm consumes it.
    static let panelRows = 1024

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

    deinit { if case .full(let w) = storage { w.deallocate() } }

    /// Scratch floats `apply` needs in native precision.
    var scratchCount: Int { if case .quantized = storage { min(outputs, Self.panelRows) * inputs } else { 0 } }

    /// y[m, outputs] = x[m, inputs] · Wᵀ (+ bias). `scratch` holds `scratchCount` floats.
    func apply(_ x: UnsafePointer<Float>, rows m: Int, into y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        switch storage {
        case .full(let w):
            multiply(x, rows: m, weights: w, weightRows: outputs, into: y, ldy: outputs)
        case .quantized(let base, let type, let rowBytes):
            var start = 0
            while start < outputs {
                let count = min(Self.panelRows, outputs - start)
                Dequantize.run(type, from: base + start * rowBytes, to: scratch, count: count * inputs)
                multiply(x, rows: m, weights: scratch, weightRows: count, into: y + start, ldy: outputs)
                start += count
            }
        }
        if let bias {
            for r in 0..<m {
                let row = y + r * outputs
                for j in 0..<outputs { row[j] += bias[j] }
            }
        }
    }

    private func multiply(_ x: UnsafePointer<Float>, rows m: Int, weights: UnsafePointer<Float>, weightRows n: Int,
                          into y: UnsafeMutablePointer<Float>, ldy: Int) {
        let k = Int32(inputs)
        if m == 1 {
            // sgemm with one row is several times slower than sgemv (FACTS.md).
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), k, 1, weights, k, x, 1, 0, y, 1)
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), k, 1, x, k, weights, k, 0, y, Int32(ldy))
        }
    }
}

extension Linear {
    /// Copies row `index` as F32 into `out` (an embedding lookup).
    func row(_ index: Int, into out: UnsafeMutablePointer<Float>) {
        switch storage {
        case .full(let w): out.update(from: w + index * inputs, count: inputs)
        case .quantized(let base, let type, let rowBytes): Dequantize.run(type, from: base + index * rowBytes, to: out, count: inputs)
        }
    }
}
