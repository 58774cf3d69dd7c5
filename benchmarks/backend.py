"""Choose the Keras backend once, at the edge, before anything imports keras."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import platform
import sys

from benchmarks.errors import UserError

BACKENDS = ("tensorflow", "jax")
DEFAULT_BACKEND = "tensorflow"  # fastest on CPU; jax is the GPU backend


def requested_backend(argv: list[str]) -> str | None:
    """The value of --backend in argv, if given (``--backend X`` or ``--backend=X``)."""
    for i, arg in enumerate(argv):
        if arg == "--backend" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--backend="):
            return arg.split("=", 1)[1]
    return None


def select_backend(argv: list[str]) -> str:
    """--backend wins, then an explicit $KERAS_BACKEND, then tensorflow; sets $KERAS_BACKEND."""
    if "keras" in sys.modules:  # too late to choose: keras reads the variable at import
        import keras

        return keras.backend.backend()
    flag, env = requested_backend(argv), os.environ.get("KERAS_BACKEND")
    name = flag or env or DEFAULT_BACKEND
    if name not in BACKENDS:
        where = "--backend" if flag else "$KERAS_BACKEND"  # the user must know which to fix
        raise UserError(f"unknown backend '{name}' (from {where}); {where} must be one of: "
                        f"{', '.join(BACKENDS)}")
    if importlib.util.find_spec(name) is None:
        extra = "pip install -e '.[jax]'" if name == "jax" else "pip install -e ."
        raise UserError(f"backend '{name}' is not installed here; install it ({extra}) "
                        f"or choose --backend {'tensorflow' if name == 'jax' else 'jax'}")
    os.environ["KERAS_BACKEND"] = name
    if name == "tensorflow":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # keep the terminal readable
    return name


@contextlib.contextmanager
def quiet_native_stderr():
    """TensorFlow's C++ runtime prints start-up chatter (oneDNN, CUDA probing) straight to
    file descriptor 2, before its own log level applies; hide it while importing/probing so
    an error stays one line. Python-level errors are unaffected once the block ends."""
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (embedded): nothing to hide
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stderr.flush()
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def accelerators() -> int:
    """How many GPUs the backend keras runs on can use (0 on a CPU-only machine)."""
    import keras

    try:
        if keras.backend.backend() == "jax":
            import jax

            return sum(d.platform == "gpu" for d in jax.devices())
        import tensorflow as tf

        return len(tf.config.list_physical_devices("GPU"))
    except Exception:  # a device query must never fail a run: count it as none
        return 0


def device_description() -> str:
    """What trains: e.g. "NVIDIA H100 80GB HBM3 x2 (gpu)", or "CPU (2 cores, x86_64)"."""
    import keras

    if accelerators():
        try:
            if keras.backend.backend() == "jax":
                import jax

                gpus = [d for d in jax.devices() if d.platform == "gpu"]
                return f"{gpus[0].device_kind} x{len(gpus)} (gpu)"
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            details = tf.config.experimental.get_device_details(gpus[0])
            return f"{details.get('device_name', 'GPU')} x{len(gpus)} (gpu)"
        except Exception:  # a name query must never fail a run
            return f"GPU x{accelerators()}"
    return f"CPU ({os.cpu_count()} cores, {platform.processor() or platform.machine()})"


def import_keras():
    """Import keras (and its backend) once, quietly."""
    with quiet_native_stderr():
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")  # the CUDA probe's complaint happens here
        elif importlib.util.find_spec("tensorflow") is not None:
            # on JAX, keras.utils.set_random_seed imports TensorFlow too when it is installed
            # (to seed it); import it here, where its start-up chatter is hidden
            import tensorflow  # noqa: F401
    return keras
