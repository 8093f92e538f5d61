"""One model step timed through Python onnxruntime, for `cargo xtask compare-ort`.

The Rust side writes the step's feeds (the input row and the primed state) as JSON:
``{"inputs": {"shape": [1, 1, W], "values": [...]}, "state_in.0": {...}, ...}``. This script
makes a session with the project's options (``models/src/session.rs``: one intra-op and one
inter-op thread, no spinning, all graph optimisations), runs the step ``--warmup`` times untimed
and ``--steps`` times timed, two ways, and writes JSON back:

- ``run_ns``: ``InferenceSession.run`` with numpy feeds and numpy outputs, one duration per call;
- ``iobinding_ns``: ``run_with_iobinding`` with the inputs and outputs bound once (the bare call);
- ``outputs``: every output of one plain run, by name, as flat lists (compared with Rust's);
- ``onnxruntime``: the version of the onnxruntime package.

Needs numpy and onnxruntime (both in ``requirements.txt``).
"""

import argparse
import json
import time

import numpy as np
import onnxruntime as ort


def session(model_path):
    """A CPU session with the project's options."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return ort.InferenceSession(
        model_path, sess_options=options, providers=["CPUExecutionProvider"]
    )


def timed(call, steps, warmup):
    """Nanoseconds of each of ``steps`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        call()
    durations = []
    for _ in range(steps):
        started = time.perf_counter_ns()
        call()
        durations.append(time.perf_counter_ns() - started)
    return durations


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the .onnx file")
    parser.add_argument("--feeds", required=True, help="JSON of the graph inputs")
    parser.add_argument("--out", required=True, help="where the JSON result goes")
    parser.add_argument("--steps", type=int, default=2000, help="timed calls per way")
    parser.add_argument("--warmup", type=int, default=200, help="untimed calls first")
    args = parser.parse_args()

    with open(args.feeds) as f:
        described = json.load(f)
    feeds = {
        name: np.asarray(d["values"], dtype=np.float32).reshape(d["shape"])
        for name, d in described.items()
    }
    sess = session(args.model)
    names = [o.name for o in sess.get_outputs()]
    outputs = sess.run(names, feeds)

    run_ns = timed(lambda: sess.run(names, feeds), args.steps, args.warmup)

    binding = sess.io_binding()
    for name, array in feeds.items():
        binding.bind_cpu_input(name, array)
    bound_outputs = []
    for name, value in zip(names, outputs):
        target = ort.OrtValue.ortvalue_from_numpy(np.empty_like(value))
        bound_outputs.append(target)  # kept alive while bound
        binding.bind_ortvalue_output(name, target)
    iobinding_ns = timed(
        lambda: sess.run_with_iobinding(binding), args.steps, args.warmup
    )

    result = {
        "onnxruntime": ort.__version__,
        "run_ns": run_ns,
        "iobinding_ns": iobinding_ns,
        "outputs": {
            name: value.astype(np.float64).ravel().tolist()
            for name, value in zip(names, outputs)
        },
    }
    with open(args.out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
