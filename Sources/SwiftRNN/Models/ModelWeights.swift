/// The layers of a model, read from a validated safetensors file according to its config.
public struct ModelWeights: Sendable {
    public var embedding: Embedding
    public var rnn: Recurrent
    public var head: [Linear]
    /// The half-precision format every weight of the file was stored in (nil: float, or
    /// mixed). Inference keeps its product weights in it (`HalfMatrix`, issue 13).
    public var halfKind: HalfKind?
    /// The row scales of every matrix the file stored in int8, by state_dict name (empty for a
    /// float or half file). The matrices themselves hold `q * scale` in float; inference keeps
    /// them int8 (`QuantizedMatrix`).
    public var int8Scales: [String: FloatBuffer] = [:]
    /// How many bias values the file left out (`bias=False`; held as zeros): not parameters
    /// of the model the file describes, so `parameterCount` leaves them out.
    public var absentBiasCount = 0
    /// What the head reads from the last layer (the config's `pooling`).
    public var pooling = Pooling.last
    /// The hashed n-gram term added to the head's outputs (nil: none). Not among
    /// `parameterPaths`: `train ngrams` fits it apart from the network (`NGramTrainer`).
    public var ngrams: NGramBag?

    public init(embedding: Embedding, rnn: Recurrent, head: [Linear], halfKind: HalfKind? = nil, pooling: Pooling = .last) {
        self.embedding = embedding; self.rnn = rnn; self.head = head; self.halfKind = halfKind; self.pooling = pooling
    }

    /// Every parameter array with its state_dict name, in state_dict order: the handle the
    /// optimizer and gradient code use to walk the model without copying it.
    public var parameterPaths: [(name: String, path: WritableKeyPath<ModelWeights, FloatBuffer>)] {
        var list: [(String, WritableKeyPath<ModelWeights, FloatBuffer>)] = [("embedding.weight", \.embedding.weight)]
        for layer in 0..<rnn.numLayers {
            for dir in 0..<rnn.directions {
                let k = layer * rnn.directions + dir, r = dir == 1
                list.append(("rnn." + Recurrent.parameterName("weight_ih", layer: layer, reverse: r), \.rnn.weights[k].wIH))
                list.append(("rnn." + Recurrent.parameterName(rnn.cell.stateWeightName, layer: layer, reverse: r), \.rnn.weights[k].wHH))
                list.append(("rnn." + Recurrent.parameterName("bias_ih", layer: layer, reverse: r), \.rnn.weights[k].bIH))
                list.append(("rnn." + Recurrent.parameterName(rnn.cell.stateBiasName, layer: layer, reverse: r), \.rnn.weights[k].bHH))
                if rnn.cell == .jordan {
                    list.append(("rnn." + Recurrent.parameterName("weight_hy", layer: layer, reverse: r), \.rnn.weights[k].wHR!))
                    list.append(("rnn." + Recurrent.parameterName("bias_hy", layer: layer, reverse: r), \.rnn.weights[k].bHR!))
                }
            }
        }
        for k in head.indices {
            list.append(("head\(k).weight", \.head[k].weight))
            list.append(("head\(k).bias", \.head[k].bias))
        }
        return list
    }

    /// The same shapes, all zero (gradients, optimizer moments).
    public func zeros() -> ModelWeights {
        var z = self
        z.halfKind = nil
        z.int8Scales = [:]
        for (_, p) in parameterPaths { z[keyPath: p] = FloatBuffer(count: self[keyPath: p].count) }
        return z
    }

    public var parameterCount: Int {
        embedding.weight.count + rnn.weights.reduce(0) { $0 + $1.wIH.count + $1.wHH.count + $1.bIH.count + $1.bHH.count + ($1.wHR?.count ?? 0) + ($1.bHR?.count ?? 0) }
            + head.reduce(0) { $0 + $1.weight.count + $1.bias.count } - absentBiasCount + (ngrams?.weight.count ?? 0)
    }

    /// Reads every tensor the config names with the exact shape it implies; refuses missing and
    /// extra tensors, non-weight dtypes and non-finite values.
    /// Tensors whose names start with one of `ignoring` are skipped (a training checkpoint
    /// keeps the optimizer's state beside the model's).
    public init(config: ModelConfig, file: SafeTensors, ignoring: [String] = []) throws(SwiftRNNError) {
        var used = Set<String>()
        var dtypes = Set<SafeTensors.DType>()
        var scalesByName: [String: FloatBuffer] = [:]
        func tensor(_ name: String, _ shape: [Int]) throws(SwiftRNNError) -> FloatBuffer {
            guard let e = file[name] else {
                throw .format("model file has no tensor '\(name)' (expected shape \(shape))")
            }
            guard e.dtype.isFloat || (e.dtype == .i8 && shape.count == 2) else {
                throw .format("tensor '\(name)' has dtype \(e.dtype.rawValue); weights must be F32, F16 or BF16 (or I8 for a matrix)")
            }
            guard e.shape == shape else {
                throw .format("tensor '\(name)' has shape \(e.shape), expected \(shape)")
            }
            used.insert(name)
            dtypes.insert(e.dtype)
            var values = file.floats(e)
            if e.dtype == .i8 {
                // int8 rows times their F32 scales (docs/model-format.md).
                guard let se = file[name + ".scale"] else { throw .format("int8 tensor '\(name)' has no '\(name).scale'") }
                guard se.dtype == .f32, se.shape == [shape[0]] else {
                    throw .format("tensor '\(name).scale' must be F32 of shape [\(shape[0])], not \(se.dtype.rawValue) \(se.shape)")
                }
                used.insert(name + ".scale")
                let scales = file.floats(se)
                for r in 0..<scales.count where !(scales[r].isFinite && scales[r] >= 0) {
                    throw .format("tensor '\(name).scale' row \(r) has scale \(scales[r]) (scales are finite and >= 0)")
                }
                scalesByName[name] = scales
                let cols = shape[1], v = values.mutableSpan()
                for r in 0..<shape[0] { for k in 0..<cols { v[r * cols + k] *= scales[r] } }
            }
            // A vector scan first (CKernels' all_finite; this runs over every weight at load).
            if !Kernels.allFinite(values.span()), let v = values.first(where: { !$0.isFinite }) {
                throw .format("tensor '\(name)' contains \(v) (NaN and infinite weights are refused)")
            }
            return values
        }
        /// A bias may be absent (PyTorch's `bias=False` omits it): zeros, which is what the
        /// layer computes without one (docs/model-format.md).
        var absent = 0
        func bias(_ name: String, _ count: Int) throws(SwiftRNNError) -> FloatBuffer {
            guard file[name] != nil else { absent += count; return FloatBuffer(count: count) }
            return try tensor(name, [count])
        }
        // Reject absurd totals before allocating: the header passed, but shapes could still ask
        // for more floats than the file holds only if they disagree with it, which `tensor`
        // refuses; this bound is on the config's own arithmetic.
        let c = config
        let V = c.vocabSize, E = c.embeddingDim, H = c.hiddenSize, D = c.directions, G = c.cell.gates
        let S = c.stateSize
        let embeddingWeight = try tensor("embedding.weight", [V, E])
        embedding = Embedding(count: V, dimension: E, weight: embeddingWeight,
                              paddingIndex: c.kind == .charlm ? nil : 0)
        var w: [RecurrentWeights] = []
        for layer in 0..<c.numLayers {
            let input = layer == 0 ? E : D * S
            for dir in 0..<D {
                let r = dir == 1
                w.append(RecurrentWeights(
                    wIH: try tensor("rnn." + Recurrent.parameterName("weight_ih", layer: layer, reverse: r), [G * H, input]),
                    wHH: try tensor("rnn." + Recurrent.parameterName(c.cell.stateWeightName, layer: layer, reverse: r), [G * H, S]),
                    bIH: try bias("rnn." + Recurrent.parameterName("bias_ih", layer: layer, reverse: r), G * H),
                    bHH: try bias("rnn." + Recurrent.parameterName(c.cell.stateBiasName, layer: layer, reverse: r), G * H)))
                if c.cell == .jordan {
                    // The output projection: `y = W_hy h + b_hy` (`[O, H]`, `[O]`).
                    w[w.count - 1].wHR = try tensor("rnn." + Recurrent.parameterName("weight_hy", layer: layer, reverse: r), [S, H])
                    w[w.count - 1].bHR = try bias("rnn." + Recurrent.parameterName("bias_hy", layer: layer, reverse: r), S)
                } else if c.projSize > 0 {
                    w[w.count - 1].wHR = try tensor("rnn." + Recurrent.parameterName("weight_hr", layer: layer, reverse: r), [S, H])
                }
            }
        }
        rnn = Recurrent(cell: c.cell, inputSize: E, hiddenSize: H, numLayers: c.numLayers,
                        bidirectional: c.bidirectional, weights: w)
        rnn.projSize = c.cell == .jordan ? c.outputSize : c.projSize
        var layers: [Linear] = []
        var width = c.featureWidth
        pooling = c.pooling
        for (k, name) in c.head.enumerated() {
            guard let e = file[name + ".weight"] else {
                throw .format("model file has no tensor '\(name).weight' (head layer \(k + 1) of \(c.head.count))")
            }
            guard e.shape.count == 2, e.shape[0] >= 1 else {
                throw .format("tensor '\(name).weight' has shape \(e.shape), expected [out, \(width)]")
            }
            let last = k == c.head.count - 1
            let out = last ? c.outputCount : e.shape[0]
            let weight = try tensor(name + ".weight", [out, width])
            layers.append(Linear(inFeatures: width, outFeatures: out, weight: weight, bias: try bias(name + ".bias", out)))
            width = out
        }
        head = layers
        if c.ngramOrder > 0 {
            let n = c.ngramBuckets, outs = c.outputCount
            guard n <= NGramBag.maxBuckets / max(1, outs) else {
                throw .format("ngram_buckets \(n) times \(outs) outputs exceeds \(NGramBag.maxBuckets) weights")
            }
            let idf = try tensor("ngram.idf", [n])
            // A matrix in name only: one row per bucket; int8 would store a scale per value.
            guard file["ngram.weight"]?.dtype != .i8 else { throw .format("tensor 'ngram.weight' must be F32, F16 or BF16, not I8") }
            let weight = try tensor("ngram.weight", [n, outs])
            ngrams = NGramBag(order: c.ngramOrder, buckets: n, outputs: outs, idf: idf, weight: weight)
        }
        halfKind = dtypes == [.f16] ? .f16 : dtypes == [.bf16] ? .bf16 : nil
        int8Scales = scalesByName
        absentBiasCount = absent
        if dtypes.contains(.i8) && c.formatVersion < 2 {
            throw .format("the file has int8 tensors but says format_version \(c.formatVersion) (int8 needs 2)")
        }
        let extra = file.entries.map(\.name).filter { n in !used.contains(n) && !ignoring.contains { n.hasPrefix($0) } }
        guard extra.isEmpty else {
            throw .format("model file has tensors its config does not use: \(extra.prefix(5).joined(separator: ", "))\(extra.count > 5 ? ", ..." : "") (is 'bidirectional', 'num_layers' or 'head' right?)")
        }
    }

    /// The tensors under their state_dict names, for the writer. With `.i8`, every matrix
    /// (embedding, recurrent and head weights) is written as per-row symmetric int8 plus an F32
    /// `NAME.scale` (a matrix read from an int8 file keeps its exact int8 values); vectors are F32.
    public func write(to writer: inout SafeTensorsWriter, config: ModelConfig, dtype: SafeTensors.DType = .f32) {
        func matrix(_ name: String, _ w: FloatBuffer, rows: Int, cols: Int) {
            // A matrix wider than int8 products allow stays F32 (the format allows mixing).
            guard dtype == .i8, cols <= QuantizedMatrix.maxColumns else {
                return writer.add(name, shape: [rows, cols], floats: w, dtype: dtype == .i8 ? .f32 : dtype)
            }
            let q = quantized(name, w, rows: rows, cols: cols)
            writer.add(name, shape: [rows, cols], int8: (0..<rows).flatMap { r in (0..<cols).map { q.q(r, $0) } })
            writer.add(name + ".scale", shape: [rows], floats: q.scales, dtype: .f32)
        }
        func vector(_ name: String, _ v: FloatBuffer) {
            writer.add(name, shape: [v.count], floats: v, dtype: dtype == .i8 ? .f32 : dtype)
        }
        matrix("embedding.weight", embedding.weight, rows: embedding.count, cols: embedding.dimension)
        let H = rnn.hiddenSize, G = rnn.gateWidth
        for layer in 0..<rnn.numLayers {
            for dir in 0..<rnn.directions {
                let r = dir == 1, wts = rnn.weights[layer * rnn.directions + dir]
                matrix("rnn." + Recurrent.parameterName("weight_ih", layer: layer, reverse: r), wts.wIH,
                       rows: G, cols: rnn.layerInputSize(layer))
                matrix("rnn." + Recurrent.parameterName(rnn.cell.stateWeightName, layer: layer, reverse: r), wts.wHH,
                       rows: G, cols: rnn.stateSize)
                vector("rnn." + Recurrent.parameterName("bias_ih", layer: layer, reverse: r), wts.bIH)
                vector("rnn." + Recurrent.parameterName(rnn.cell.stateBiasName, layer: layer, reverse: r), wts.bHH)
                if let hr = wts.wHR {
                    let base = rnn.cell == .jordan ? "weight_hy" : "weight_hr"
                    matrix("rnn." + Recurrent.parameterName(base, layer: layer, reverse: r), hr, rows: rnn.stateSize, cols: H)
                }
                if let by = wts.bHR { vector("rnn." + Recurrent.parameterName("bias_hy", layer: layer, reverse: r), by) }
            }
        }
        for (name, l) in zip(config.head, head) {
            matrix(name + ".weight", l.weight, rows: l.outFeatures, cols: l.inFeatures)
            vector(name + ".bias", l.bias)
        }
        if let g = ngrams {
            // The term is a table lookup, not a product: int8 would only lose accuracy. In an
            // int8 file it is stored half when half holds every value exactly (a term that came
            // from an F16 file: the shipped model's), else F32.
            let termType: SafeTensors.DType = dtype != .i8 ? dtype
                : HalfFloat.isExact(g.idf) && HalfFloat.isExact(g.weight) ? .f16 : .f32
            writer.add("ngram.idf", shape: [g.buckets], floats: g.idf, dtype: termType)
            writer.add("ngram.weight", shape: [g.buckets, g.outputs], floats: g.weight, dtype: termType)
        }
    }

    /// Matrix `name` (`[rows, cols]`) as inference keeps it: int8 when the file stored it int8,
    /// half when the file was half, else float.
    public func inferenceMatrix(_ name: String, _ w: FloatBuffer, rows: Int, cols: Int) -> WeightMatrix {
        if let scales = int8Scales[name], let q = QuantizedMatrix(exactly: w, rows: rows, cols: cols, scales: scales) {
            return .int8(q)
        }
        return .keeping(w, half: halfKind)
    }

    /// The int8 form of matrix `name`: its file's exact int8 values when it was read from an
    /// int8 file, else a fresh per-row quantization.
    public func quantized(_ name: String, _ w: FloatBuffer, rows: Int, cols: Int) -> QuantizedMatrix {
        int8Scales[name].flatMap { QuantizedMatrix(exactly: w, rows: rows, cols: cols, scales: $0) }
            ?? QuantizedMatrix(quantizing: w, rows: rows, cols: cols)
    }

    /// The largest change int8 quantization makes to any weight (what `convert --dtype I8`
    /// reports).
    public func int8MaxError(config: ModelConfig) -> Float {
        var worst: Float = 0
        func check(_ name: String, _ w: FloatBuffer, rows: Int, cols: Int) {
            guard cols <= QuantizedMatrix.maxColumns else { return }
            let d = quantized(name, w, rows: rows, cols: cols).dequantized()
            for k in 0..<w.count { worst = max(worst, abs(w[k] - d[k])) }
        }
        check("embedding.weight", embedding.weight, rows: embedding.count, cols: embedding.dimension)
        for layer in 0..<rnn.numLayers {
            for dir in 0..<rnn.directions {
                let r = dir == 1, wts = rnn.weights[layer * rnn.directions + dir]
                check("rnn." + Recurrent.parameterName("weight_ih", layer: layer, reverse: r), wts.wIH,
                      rows: rnn.gateWidth, cols: rnn.layerInputSize(layer))
                check("rnn." + Recurrent.parameterName(rnn.cell.stateWeightName, layer: layer, reverse: r), wts.wHH,
                      rows: rnn.gateWidth, cols: rnn.stateSize)
                if let hr = wts.wHR {
                    check("rnn." + Recurrent.parameterName(rnn.cell == .jordan ? "weight_hy" : "weight_hr", layer: layer, reverse: r), hr,
                          rows: rnn.stateSize, cols: rnn.hiddenSize)
                }
            }
        }
        for (name, l) in zip(config.head, head) { check(name + ".weight", l.weight, rows: l.outFeatures, cols: l.inFeatures) }
        return worst
    }
}
