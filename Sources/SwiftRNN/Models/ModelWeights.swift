/// The layers of a model, read from a validated safetensors file according to its config.
public struct ModelWeights: Sendable {
    public var embedding: Embedding
    public var rnn: Recurrent
    public var head: [Linear]
    /// The half-precision format every weight of the file was stored in (nil: float, or
    /// mixed). Inference keeps its product weights in it (`HalfMatrix`, issue 13).
    public var halfKind: HalfKind?

    public init(embedding: Embedding, rnn: Recurrent, head: [Linear], halfKind: HalfKind? = nil) {
        self.embedding = embedding; self.rnn = rnn; self.head = head; self.halfKind = halfKind
    }

    /// Every parameter array with its state_dict name, in state_dict order: the handle the
    /// optimizer and gradient code use to walk the model without copying it.
    public var parameterPaths: [(name: String, path: WritableKeyPath<ModelWeights, FloatBuffer>)] {
        var list: [(String, WritableKeyPath<ModelWeights, FloatBuffer>)] = [("embedding.weight", \.embedding.weight)]
        for layer in 0..<rnn.numLayers {
            for dir in 0..<rnn.directions {
                let k = layer * rnn.directions + dir, r = dir == 1
                list.append(("rnn." + Recurrent.parameterName("weight_ih", layer: layer, reverse: r), \.rnn.weights[k].wIH))
                list.append(("rnn." + Recurrent.parameterName("weight_hh", layer: layer, reverse: r), \.rnn.weights[k].wHH))
                list.append(("rnn." + Recurrent.parameterName("bias_ih", layer: layer, reverse: r), \.rnn.weights[k].bIH))
                list.append(("rnn." + Recurrent.parameterName("bias_hh", layer: layer, reverse: r), \.rnn.weights[k].bHH))
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
        for (_, p) in parameterPaths { z[keyPath: p] = FloatBuffer(count: self[keyPath: p].count) }
        return z
    }

    public var parameterCount: Int {
        embedding.weight.count + rnn.weights.reduce(0) { $0 + $1.wIH.count + $1.wHH.count + $1.bIH.count + $1.bHH.count }
            + head.reduce(0) { $0 + $1.weight.count + $1.bias.count }
    }

    /// Reads every tensor the config names with the exact shape it implies; refuses missing and
    /// extra tensors, non-weight dtypes and non-finite values.
    /// Tensors whose names start with one of `ignoring` are skipped (a training checkpoint
    /// keeps the optimizer's state beside the model's).
    public init(config: ModelConfig, file: SafeTensors, ignoring: [String] = []) throws(SwiftRNNError) {
        var used = Set<String>()
        var dtypes = Set<SafeTensors.DType>()
        func tensor(_ name: String, _ shape: [Int]) throws(SwiftRNNError) -> FloatBuffer {
            guard let e = file[name] else {
                throw .format("model file has no tensor '\(name)' (expected shape \(shape))")
            }
            guard e.dtype.isFloat else {
                throw .format("tensor '\(name)' has dtype \(e.dtype.rawValue); weights must be F32, F16 or BF16")
            }
            guard e.shape == shape else {
                throw .format("tensor '\(name)' has shape \(e.shape), expected \(shape)")
            }
            used.insert(name)
            dtypes.insert(e.dtype)
            let values = file.floats(e)
            // A vector scan first (CKernels' all_finite; this runs over every weight at load).
            if !Kernels.allFinite(values.span()), let v = values.first(where: { !$0.isFinite }) {
                throw .format("tensor '\(name)' contains \(v) (NaN and infinite weights are refused)")
            }
            return values
        }
        // Reject absurd totals before allocating: the header passed, but shapes could still ask
        // for more floats than the file holds only if they disagree with it, which `tensor`
        // refuses; this bound is on the config's own arithmetic.
        let c = config
        let V = c.vocabSize, E = c.embeddingDim, H = c.hiddenSize, D = c.directions, G = c.cell.gates
        let embeddingWeight = try tensor("embedding.weight", [V, E])
        embedding = Embedding(count: V, dimension: E, weight: embeddingWeight,
                              paddingIndex: c.kind == .sentiment ? 0 : nil)
        var w: [RecurrentWeights] = []
        for layer in 0..<c.numLayers {
            let input = layer == 0 ? E : D * H
            for dir in 0..<D {
                let r = dir == 1
                w.append(RecurrentWeights(
                    wIH: try tensor("rnn." + Recurrent.parameterName("weight_ih", layer: layer, reverse: r), [G * H, input]),
                    wHH: try tensor("rnn." + Recurrent.parameterName("weight_hh", layer: layer, reverse: r), [G * H, H]),
                    bIH: try tensor("rnn." + Recurrent.parameterName("bias_ih", layer: layer, reverse: r), [G * H]),
                    bHH: try tensor("rnn." + Recurrent.parameterName("bias_hh", layer: layer, reverse: r), [G * H])))
            }
        }
        rnn = Recurrent(cell: c.cell, inputSize: E, hiddenSize: H, numLayers: c.numLayers,
                        bidirectional: c.bidirectional, weights: w)
        var layers: [Linear] = []
        var width = D * H
        for (k, name) in c.head.enumerated() {
            guard let e = file[name + ".weight"] else {
                throw .format("model file has no tensor '\(name).weight' (head layer \(k + 1) of \(c.head.count))")
            }
            guard e.shape.count == 2, e.shape[0] >= 1 else {
                throw .format("tensor '\(name).weight' has shape \(e.shape), expected [out, \(width)]")
            }
            let last = k == c.head.count - 1
            let out = last ? (c.kind == .sentiment ? 1 : V) : e.shape[0]
            let weight = try tensor(name + ".weight", [out, width])
            let bias = try tensor(name + ".bias", [out])
            layers.append(Linear(inFeatures: width, outFeatures: out, weight: weight, bias: bias))
            width = out
        }
        head = layers
        halfKind = dtypes == [.f16] ? .f16 : dtypes == [.bf16] ? .bf16 : nil
        let extra = file.entries.map(\.name).filter { n in !used.contains(n) && !ignoring.contains { n.hasPrefix($0) } }
        guard extra.isEmpty else {
            throw .format("model file has tensors its config does not use: \(extra.prefix(5).joined(separator: ", "))\(extra.count > 5 ? ", ..." : "") (is 'bidirectional', 'num_layers' or 'head' right?)")
        }
    }

    /// The tensors under their state_dict names, for the writer.
    public func write(to writer: inout SafeTensorsWriter, config: ModelConfig, dtype: SafeTensors.DType = .f32) {
        writer.add("embedding.weight", shape: [embedding.count, embedding.dimension], floats: embedding.weight, dtype: dtype)
        let H = rnn.hiddenSize, G = rnn.gateWidth
        for layer in 0..<rnn.numLayers {
            for dir in 0..<rnn.directions {
                let r = dir == 1, wts = rnn.weights[layer * rnn.directions + dir]
                writer.add("rnn." + Recurrent.parameterName("weight_ih", layer: layer, reverse: r),
                           shape: [G, rnn.layerInputSize(layer)], floats: wts.wIH, dtype: dtype)
                writer.add("rnn." + Recurrent.parameterName("weight_hh", layer: layer, reverse: r),
                           shape: [G, H], floats: wts.wHH, dtype: dtype)
                writer.add("rnn." + Recurrent.parameterName("bias_ih", layer: layer, reverse: r),
                           shape: [G], floats: wts.bIH, dtype: dtype)
                writer.add("rnn." + Recurrent.parameterName("bias_hh", layer: layer, reverse: r),
                           shape: [G], floats: wts.bHH, dtype: dtype)
            }
        }
        for (name, l) in zip(config.head, head) {
            writer.add(name + ".weight", shape: [l.outFeatures, l.inFeatures], floats: l.weight, dtype: dtype)
            writer.add(name + ".bias", shape: [l.outFeatures], floats: l.bias, dtype: dtype)
        }
    }
}
