"""Right answers for 04-device-management: each must keep its test cell's full marks.

Each value is the complete source of the answer cell, written another valid way than the
solution: another API spelling, another order, or following the task's statement literally
(raising on anything the statement does not allow, so that a hidden test using an input the
statement does not state loses points and shows up here).
"""

RIGHT_ANSWERS = {
    "torch_pick_device": {
        "follows the statement literally": '''
import re


def torch_pick_device(preference, cuda_count, mps_available):
    if type(preference) is not str or not re.fullmatch(r"auto|cpu|mps|cuda(:[0-9]+)?", preference, flags=re.IGNORECASE):
        raise ValueError(f"preference must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {preference!r}")
    if type(cuda_count) is not int or cuda_count < 0:
        raise ValueError(f"cuda_count must be an int of 0 or more, got {cuda_count!r}")
    if type(mps_available) is not bool:
        raise ValueError(f"mps_available must be a bool, got {mps_available!r}")
    wanted = preference.lower()
    if wanted == "auto":
        wanted = "cuda:0" if cuda_count else "mps" if mps_available else "cpu"
    if wanted == "cpu":
        return torch.device("cpu")
    if wanted == "mps":
        if not mps_available:
            print(f"{preference!r}: MPS is not available here, using the CPU.")
            return torch.device("cpu")
        return torch.device("mps")
    index = int(wanted.partition(":")[2] or 0)
    if index >= cuda_count:
        print(f"{preference!r}: there is no CUDA GPU {index} (there are {cuda_count}), using the CPU.")
        return torch.device("cpu")
    return torch.device(f"cuda:{index}")


torch_pick_device("auto", torch.cuda.device_count(), torch.backends.mps.is_available())
''',
        "a lookup table and torch.device(type, index)": '''
def torch_pick_device(preference, cuda_count, mps_available):
    kind, _, number = preference.lower().partition(":")
    if kind == "auto" and not number:
        order = [("cuda", 0)] * (cuda_count > 0) + [("mps", None)] * mps_available + [("cpu", None)]
        kind, index = order[0]
        return torch.device(kind, index) if index is not None else torch.device(kind)
    available = {"cpu": True, "mps": mps_available}
    if kind in available and not number:
        if available[kind]:
            return torch.device(kind)
        print(f"Asked for {preference}, which is not available: falling back to the CPU")
        return torch.device("cpu")
    if kind == "cuda" and (number == "" or number.isdigit()):
        index = int(number or 0)
        if index < cuda_count:
            return torch.device("cuda", index)
        print(f"Asked for {preference}, but only {cuda_count} CUDA device(s): falling back to the CPU")
        return torch.device("cpu")
    raise ValueError(preference)


torch_pick_device("auto", torch.cuda.device_count(), torch.backends.mps.is_available())
''',
    },
    "tf_pick_device": {
        "follows the statement literally": '''
import re


def tf_pick_device(preference, physical_devices):
    if type(preference) is not str or not re.fullmatch(r"auto|/?(cpu|cpu:0|gpu|gpu:[0-9]+)", preference, flags=re.IGNORECASE):
        raise ValueError(f"preference must be 'auto', 'cpu', 'cpu:0', 'gpu' or 'gpu:N' (a device with or without '/'), got {preference!r}")
    for device in physical_devices:
        if type(device) is not tf.config.PhysicalDevice or device.device_type not in ("CPU", "GPU"):
            raise ValueError(f"expected tf.config.PhysicalDevice objects of type CPU or GPU, got {device!r}")
    gpu_count = sum(device.device_type == "GPU" for device in physical_devices)
    wanted = preference.lower().removeprefix("/")
    if wanted == "auto":
        return "/GPU:0" if gpu_count else "/CPU:0"
    if wanted.startswith("cpu"):
        return "/CPU:0"
    index = int(wanted.partition(":")[2] or 0)
    if index >= gpu_count:
        print(f"{preference!r}: TensorFlow was given {gpu_count} GPU(s), using /CPU:0.")
        return "/CPU:0"
    return f"/GPU:{index}"


tf_pick_device("auto", tf.config.list_physical_devices())
''',
        "tf.DeviceSpec to parse the name": '''
def tf_pick_device(preference, physical_devices):
    gpus = sorted(d.name for d in physical_devices if d.device_type == "GPU")
    if preference.lower() == "auto":
        return "/GPU:0" if gpus else "/CPU:0"
    text = preference if preference.startswith("/") else "/" + preference
    try:
        spec = tf.DeviceSpec.from_string(text.upper())
    except ValueError:
        raise ValueError(f"not a device: {preference!r}") from None
    if spec.device_type == "CPU" and spec.device_index in (None, 0):
        return "/CPU:0"
    if spec.device_type != "GPU":
        raise ValueError(f"not a device this task knows: {preference!r}")
    index = spec.device_index or 0
    if index < len(gpus):
        return f"/GPU:{index}"
    print(f"GPU {index} asked for, but there are only {len(gpus)}: /CPU:0 it is")
    return "/CPU:0"


tf_pick_device("auto", tf.config.list_physical_devices())
''',
    },
    "torch_predict": {
        "follows the statement literally": '''
def torch_predict(model, X, device):
    if not isinstance(model, torch.nn.Module) or type(X) is not torch.Tensor:
        raise TypeError(f"expected a torch.nn.Module and a torch.Tensor, got {type(model).__name__} and {type(X).__name__}")
    if not isinstance(device, (torch.device, str)):
        raise TypeError(f"device must be a torch.device or a string, got {type(device).__name__}")
    model = model.to(device)
    X = X.to(device)
    model.eval()
    with torch.no_grad():
        return model(X)


torch_predict(torch.nn.Linear(3, 2), torch.ones(4, 3), sbs.devices.current_device().torch)
''',
        "inference_mode and train(False), model moved in place": '''
def torch_predict(model, X, device):
    model.train(False)
    model.to(device)  # in place for modules
    with torch.inference_mode():
        output = model(X.to(device, non_blocking=True))
    return output


torch_predict(torch.nn.Linear(3, 2), torch.ones(4, 3), sbs.devices.current_device().torch)
''',
    },
    "tf_predict": {
        "follows the statement literally": '''
def tf_predict(model, X, device):
    if not isinstance(model, keras.Model):
        raise TypeError(f"expected a Keras model, got {type(model).__name__}")
    if type(device) is not str:
        raise TypeError(f"device must be a string such as '/CPU:1', got {type(device).__name__}")
    with tf.device(device):
        return model(X, training=False)


tf_predict(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]), tf.ones((4, 3)), "/CPU:1").device
''',
        "a tf.DeviceSpec, the result returned after the block": '''
def tf_predict(model, X, device):
    with tf.device(tf.DeviceSpec.from_string(device)):
        output = model(X, training=False)
    return output


tf_predict(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]), tf.ones((4, 3)), "/CPU:1").device
''',
    },
    "torch_time": {
        "torch.accelerator.synchronize for any GPU": '''
def torch_time(fn, device, repeat=5, warmup=2):
    device = torch.device(device)

    def run():
        fn()
        if device.type != "cpu":
            torch.accelerator.synchronize(device)

    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


A = torch.randn(256, 256)
torch_time(lambda: A @ A, "cpu")
''',
        "follows the statement literally": '''
def torch_time(fn, device, repeat=5, warmup=2):
    if not isinstance(device, (torch.device, str)):
        raise TypeError(f"device must be a torch.device or a string, got {type(device).__name__}")
    device = torch.device(device)
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be of type 'cpu', 'cuda' or 'mps', got {device.type!r}")
    if type(repeat) is not int or repeat < 1 or type(warmup) is not int or warmup < 0:
        raise ValueError(f"repeat must be an int >= 1 and warmup an int >= 0, got {repeat!r} and {warmup!r}")
    waits = {"cpu": lambda: None, "cuda": lambda: torch.cuda.synchronize(device), "mps": lambda: torch.mps.synchronize()}
    wait = waits[device.type]
    for _ in range(warmup):
        fn()
        wait()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        wait()
        times.append(time.perf_counter() - start)
    return times


A = torch.randn(256, 256)
torch_time(lambda: A @ A, "cpu")
''',
        "synchronize functions imported by name, clock read with a list comprehension": '''
from time import perf_counter

from torch.cuda import synchronize as cuda_synchronize
from torch.mps import synchronize as mps_synchronize


def torch_time(fn, device, repeat=5, warmup=2):
    kind = torch.device(device).type
    wait = {"cuda": lambda: cuda_synchronize(device), "mps": mps_synchronize}.get(kind, lambda: None)

    def timed():
        start = perf_counter()
        fn()
        wait()
        return perf_counter() - start

    [timed() for _ in range(warmup)]
    return [timed() for _ in range(repeat)]


A = torch.randn(256, 256)
torch_time(lambda: A @ A, "cpu")
''',
    },
    "tf_time": {
        "reads each result back with .numpy()": '''
def tf_time(fn, repeat=5, warmup=2):
    for _ in range(warmup):
        fn().numpy()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn().numpy()  # reading the result back waits for the work
        times.append(time.perf_counter() - start)
    return times


A = tf.random.normal((256, 256))
tf_time(lambda: tf.matmul(A, A))
''',
        "follows the statement literally": '''
def tf_time(fn, repeat=5, warmup=2):
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if type(repeat) is not int or repeat < 1 or type(warmup) is not int or warmup < 0:
        raise ValueError(f"repeat must be an int >= 1 and warmup an int >= 0, got {repeat!r} and {warmup!r}")
    times = []
    for call in range(warmup + repeat):
        start = time.perf_counter()
        fn()
        tf.test.experimental.sync_devices()
        if call >= warmup:
            times.append(time.perf_counter() - start)
    return times


A = tf.random.normal((256, 256))
tf_time(lambda: tf.matmul(A, A))
''',
        "sync_devices captured in a name at import": '''
sync_devices = tf.test.experimental.sync_devices


def tf_time(fn, repeat=5, warmup=2):
    def once():
        start = time.perf_counter()
        fn()
        sync_devices()
        return time.perf_counter() - start

    for _ in range(warmup):
        once()
    return [once() for _ in range(repeat)]


A = tf.random.normal((256, 256))
tf_time(lambda: tf.matmul(A, A))
''',
    },
    "torch_from_tf": {
        "through a DLPack capsule from TensorFlow": '''
def torch_from_tf(x):
    return torch.utils.dlpack.from_dlpack(tf.experimental.dlpack.to_dlpack(x))


torch_from_tf(tf.constant([[1.0, 2.0], [3.0, 4.0]]))
''',
        "follows the statement literally": '''
def torch_from_tf(x):
    if not tf.is_tensor(x):
        raise TypeError(f"expected a TensorFlow tensor, got {type(x).__name__}")
    return torch.from_dlpack(x)


torch_from_tf(tf.constant([[1.0, 2.0], [3.0, 4.0]]))
''',
    },
    "tf_from_torch": {
        "the DLPack protocol on the detached tensor": '''
def tf_from_torch(t):
    return tf.experimental.dlpack.from_dlpack(t.detach().__dlpack__())


tf_from_torch(torch.arange(6.0).reshape(2, 3))
''',
        "follows the statement literally": '''
def tf_from_torch(t):
    if type(t) is not torch.Tensor or not t.is_contiguous():
        raise ValueError(f"expected a contiguous torch.Tensor, got {type(t).__name__}")
    return tf.experimental.dlpack.from_dlpack(torch.utils.dlpack.to_dlpack(t.detach()))


tf_from_torch(torch.arange(6.0).reshape(2, 3))
''',
    },
}
