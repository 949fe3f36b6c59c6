"""The benchmark harness behind benchmarks/bench.py (issue 5), one module per concern:

    common.py        paths, targets, logging, results files, the book's data pipeline (tokenizer,
                     IMDb reader, vocabulary, the novel's text), the repetition timer, peak RSS
    peers.py         the peers: their libraries in a worker (torch threads, ONNX Runtime session,
                     swiftrnn bindings, the PyTorch models from tools/torch_reference.py), and in
                     the orchestrator the pinned thread environment, run_worker, which peers exist
    prepare.py       the data (aclImdb unpacked, W4 subsets) and the models every peer runs
                     (seeded random weights -> .pt, safetensors, ONNX graphs)
    conditions.py    the machine and library conditions recorded with the results
    bandwidth.py     the bandwidth/FLOP probe (bandwidth.c) and the W2 roofline computed from it
    w1_scoring.py    W1: the worker (one peer, one thread count) and the orchestrator loop
    w2_generation.py W2, the same
    w3_coldstart.py  W3: coldstart.c for swiftrnn, a fresh Python process for the others
    w4_training.py   W4: the PyTorch training loops and `swiftrnn train`
    wq_precision.py  WQ (issue 13): our F32/F16/I8 conversions of the same models (generation,
                     scoring, cold start, agreement) and PyTorch's dynamic int8 peer
    report.py        RESULTS.md and plot.png from results/*.json

bench.py holds the command line (run, report, worker) and cmd_run, which calls the workloads
in the order bw, W3, W2, W1, WQ, W4. Every measurement runs in a fresh `bench.py worker` process.
"""
