import SwiftRNN
#if canImport(Glibc)
import Glibc
#endif

/// One kind of training, as `TrainingLoop` drives it. A task owns its model, optimizer, data
/// and metrics; the loop owns the schedule, checkpoints, resuming and stopping, the same for
/// every kind (sentiment, character model, word model).
///
/// Every random choice of a task must derive from its seed and the position in training, so
/// that a run resumed from its checkpoint continues exactly as if it had never stopped.
public protocol TrainingTask {
    var config: ModelConfig { get }
    var weights: ModelWeights { get }
    var adam: Adam { get }
    /// Phases (epochs; 1 for a run counted in iterations) and the steps of each.
    var phases: Int { get }
    func steps(inPhase phase: Int) -> Int
    /// The progress label of a phase and the unit its speed is counted in.
    func label(phase: Int) -> String
    var unit: String { get }
    /// Steps between checkpoints within a phase (nil: at phase ends and interruptions only).
    var checkpointEvery: Int? { get }
    /// Whether the loop writes the model file when the run ends or stops (a task that keeps
    /// only its best phase's model writes it itself, in `endPhase`).
    var savesModelAtEnd: Bool { get }

    /// One optimizer step at `position`: the units it processed and the running metrics.
    mutating func step(_ position: RunPosition) throws(SwiftRNNError) -> (units: Int, metrics: String)
    /// After the last step of a phase (validation, best model, metrics): a summary line or nil.
    mutating func endPhase(_ phase: Int, seconds: Double) throws(SwiftRNNError) -> String?
    /// The task's state beyond weights and optimizer, for the checkpoint.
    func checkpointState() -> (progress: [String: Int], extra: [String: [Float]])
}

/// Where a run is: the next step of a phase, and whether that phase's end already ran (a run
/// can stop between the last step and the end of a phase, and a resumed run may be given more
/// steps or phases than the first).
public struct RunPosition: Equatable, Sendable {
    public var phase: Int
    public var step: Int
    public var phaseEnded: Bool

    public init(phase: Int = 0, step: Int = 0, phaseEnded: Bool = false) {
        self.phase = phase; self.step = step; self.phaseEnded = phaseEnded
    }

    init(_ progress: [String: Int]) {
        self.init(phase: progress["phase"] ?? 0, step: progress["step"] ?? 0, phaseEnded: (progress["phase_ended"] ?? 0) != 0)
    }

    var progress: [String: Int] { ["phase": phase, "step": step, "phase_ended": phaseEnded ? 1 : 0] }
}

/// The one training loop: steps through the phases of a task, reports progress, writes the
/// checkpoint `out.ckpt` (atomically) at phase ends, every `checkpointEvery` steps and when the
/// observer says stop, and resumes from it.
public enum TrainingLoop {
    public struct Outcome {
        public var interrupted: Bool
        public var seconds: Double
        /// Phases whose end ran in this call.
        public var phasesRun: Int
    }

    public static func checkpointPath(_ out: String) -> String { out + ".ckpt" }

    /// The checkpoint of `out` when resuming and one exists (nil otherwise).
    public static func resumable(_ out: String, resume: Bool) throws(SwiftRNNError) -> Checkpoint? {
        let path = checkpointPath(out)
        guard resume, access(path, F_OK) == 0 else { return nil }
        return try Checkpoint.load(path: path)
    }

    /// Subnormals are flushed to zero for the whole run (`Kernels.withSubnormalsFlushed`: the
    /// vanishing gradients of long reviews made training 2-3 times slower).
    public static func run<T: TrainingTask>(_ task: inout T, out: String, from checkpoint: Checkpoint?,
                                            observer: RunObserver) throws(SwiftRNNError) -> Outcome {
        try Kernels.withSubnormalsFlushed { () throws(SwiftRNNError) -> Outcome in
            try runSteps(&task, out: out, from: checkpoint, observer: observer)
        }
    }

    static func runSteps<T: TrainingTask>(_ task: inout T, out: String, from checkpoint: Checkpoint?,
                                          observer: RunObserver) throws(SwiftRNNError) -> Outcome {
        let path = checkpointPath(out)
        var pos = checkpoint.map { RunPosition($0.progress) } ?? RunPosition()
        if checkpoint != nil {
            observer.report(.resumed("resuming from \(path): \(task.label(phase: pos.phase)), step \(pos.step)"))
        }
        func save(_ p: RunPosition) throws(SwiftRNNError) {
            let state = task.checkpointState()
            try Checkpoint(config: task.config, weights: task.weights, adam: task.adam,
                           progress: state.progress.merging(p.progress) { $1 }, extra: state.extra).save(to: path)
        }
        let t0 = monotonicSeconds()
        var phasesRun = 0
        while pos.phase < task.phases {
            let n = task.steps(inPhase: pos.phase)
            if pos.step >= n && pos.phaseEnded {
                pos = RunPosition(phase: pos.phase + 1)
                continue
            }
            let tp = monotonicSeconds()
            var units = 0
            while pos.step < n {
                let r = try task.step(pos)
                units += r.units
                pos.step += 1
                pos.phaseEnded = false
                observer.report(.progress(label: task.label(phase: pos.phase), done: pos.step, total: n, metrics: r.metrics,
                                          unitsPerSecond: Double(units) / max(1e-9, monotonicSeconds() - tp), unit: task.unit))
                if let every = task.checkpointEvery, pos.step % every == 0, pos.step < n { try save(pos) }
                if observer.shouldStop() {
                    try save(pos)
                    if task.savesModelAtEnd { try Model.make(config: task.config, weights: task.weights).save(to: out) }
                    observer.report(.interrupted(checkpoint: path))
                    return Outcome(interrupted: true, seconds: monotonicSeconds() - t0, phasesRun: phasesRun)
                }
            }
            if let line = try task.endPhase(pos.phase, seconds: monotonicSeconds() - tp) { observer.report(.summary(line)) }
            phasesRun += 1
            pos.phaseEnded = true
            try save(pos)
        }
        if task.savesModelAtEnd { try Model.make(config: task.config, weights: task.weights).save(to: out) }
        return Outcome(interrupted: false, seconds: monotonicSeconds() - t0, phasesRun: phasesRun)
    }
}
