import SwiftRNN

/// A training checkpoint: the model file's tensors and metadata plus Adam's moments and the
/// position in training, in one safetensors file (`MODEL.ckpt`). Written atomically, so an
/// interrupted run always leaves the previous or the new checkpoint, never half of one.
public struct Checkpoint {
    public var config: ModelConfig
    public var weights: ModelWeights
    public var adam: Adam
    /// Free-form counters (epoch, batch, iteration, stream position, ...).
    public var progress: [String: Int]
    /// Extra float tensors (the carried state of stateful character training).
    public var extra: [String: [Float]]

    public init(config: ModelConfig, weights: ModelWeights, adam: Adam, progress: [String: Int], extra: [String: [Float]] = [:]) {
        self.config = config; self.weights = weights; self.adam = adam; self.progress = progress; self.extra = extra
    }

    public func save(to path: String) throws(SwiftRNNError) {
        var w = SafeTensorsWriter()
        w.metadata = config.metadata
        w.metadata.append(("checkpoint", "1"))
        w.metadata.append(("adam_step", String(adam.step)))
        w.metadata.append(("adam_lr", String(adam.learningRate)))
        for (k, v) in progress.sorted(by: { $0.key < $1.key }) { w.metadata.append(("progress." + k, String(v))) }
        weights.write(to: &w, config: config)
        let (m, v) = adam.moments
        for (name, p) in weights.parameterPaths {
            w.add("adam.m." + name, shape: [m[keyPath: p].count], floats: m[keyPath: p])
            w.add("adam.v." + name, shape: [v[keyPath: p].count], floats: v[keyPath: p])
        }
        for (k, v) in extra.sorted(by: { $0.key < $1.key }) { w.add("extra." + k, shape: [v.count], floats: v) }
        try w.write(to: path)
    }

    public static func load(path: String) throws(SwiftRNNError) -> Checkpoint {
        try FileIO.withFileBytes(path) { bytes throws(SwiftRNNError) in
            let f = try SafeTensors(bytes: bytes)
            guard f.metadata["checkpoint"] == "1" else { throw .format("'\(path)' is not a training checkpoint") }
            let config = try ModelConfig(metadata: f.metadata)
            let weights = try ModelWeights(config: config, file: f, ignoring: ["adam.", "extra."])
            var m = weights.zeros(), v = weights.zeros()
            for (name, p) in weights.parameterPaths {
                guard let em = f["adam.m." + name], let ev = f["adam.v." + name] else {
                    throw .format("checkpoint lacks the optimizer state of '\(name)'")
                }
                m[keyPath: p] = f.floats(em)
                v[keyPath: p] = f.floats(ev)
            }
            let adam = Adam(learningRate: Float(f.metadata["adam_lr"] ?? "") ?? 1e-3,
                            step: Int(f.metadata["adam_step"] ?? "") ?? 0, m: m, v: v)
            var progress: [String: Int] = [:]
            for (k, val) in f.metadata where k.hasPrefix("progress.") { progress[String(k.dropFirst(9))] = Int(val) ?? 0 }
            var extra: [String: [Float]] = [:]
            for e in f.entries where e.name.hasPrefix("extra.") { extra[String(e.name.dropFirst(6))] = f.floats(e).array }
            return Checkpoint(config: config, weights: weights, adam: adam, progress: progress, extra: extra)
        }
    }
}
