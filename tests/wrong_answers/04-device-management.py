"""Wrong answers for 04-device-management: each must lose its test cell's points.

Each value is the complete source of the answer cell, as a student might write it.

Each name starts with what the answer is: the misconception it embodies (an id of
sidebyside/misconceptions/04-device-management.toml), which its test must name, or a plain
category (tests/stored_answers.py: ``delegates``, ``crashes``, ``cheats``).
"""

WRONG_ANSWERS = {
    "torch_pick_device": {
        "ignores_preference: ignores the preference": '''
def torch_pick_device(preference, cuda_count, mps_available):
    if cuda_count > 0:
        return torch.device("cuda:0")
    if mps_available:
        return torch.device("mps")
    return torch.device("cpu")
''',
        "forgets_mps: checks CUDA but not MPS": '''
def torch_pick_device(preference, cuda_count, mps_available):
    wanted = preference.strip().lower()
    if wanted == "auto":
        return torch.device("cuda:0") if cuda_count > 0 else torch.device("cpu")
    if wanted in ("cpu", "mps"):
        return torch.device("cpu")
    if wanted == "cuda" or wanted.startswith("cuda:"):
        index = int(wanted.split(":")[1]) if ":" in wanted else 0
        if index < cuda_count:
            return torch.device("cuda", index)
        print("No such GPU: using the CPU.")
        return torch.device("cpu")
    raise ValueError(preference)
''',
        "no_cpu_fallback: no fallback to the CPU": '''
def torch_pick_device(preference, cuda_count, mps_available):
    wanted = preference.strip().lower()
    if wanted == "auto":
        if cuda_count > 0:
            return torch.device("cuda:0")
        return torch.device("mps") if mps_available else torch.device("cpu")
    if wanted == "cuda":
        return torch.device("cuda:0")
    if wanted in ("cpu", "mps") or wanted.startswith("cuda:"):
        return torch.device(wanted)
    raise ValueError(preference)
''',
        "gpu_index_off_by_one: off by one in the GPU count": '''
def torch_pick_device(preference, cuda_count, mps_available):
    wanted = preference.strip().lower()
    if wanted == "auto":
        if cuda_count > 0:
            return torch.device("cuda:0")
        return torch.device("mps") if mps_available else torch.device("cpu")
    if wanted == "cpu":
        return torch.device("cpu")
    if wanted == "mps":
        if mps_available:
            return torch.device("mps")
        print("MPS is not available: using the CPU.")
        return torch.device("cpu")
    if wanted == "cuda" or wanted.startswith("cuda:"):
        index = int(wanted.split(":")[1]) if ":" in wanted else 0
        if index <= cuda_count:
            return torch.device("cuda", index)
        print("No such GPU: using the CPU.")
        return torch.device("cpu")
    raise ValueError(preference)
''',
        "silent_fallback: falls back silently": '''
def torch_pick_device(preference, cuda_count, mps_available):
    wanted = preference.strip().lower()
    if wanted == "auto":
        if cuda_count > 0:
            return torch.device("cuda:0")
        return torch.device("mps") if mps_available else torch.device("cpu")
    if wanted == "cpu":
        return torch.device("cpu")
    if wanted == "mps":
        return torch.device("mps") if mps_available else torch.device("cpu")
    if wanted == "cuda" or wanted.startswith("cuda:"):
        index = int(wanted.split(":")[1]) if ":" in wanted else 0
        return torch.device("cuda", index) if index < cuda_count else torch.device("cpu")
    raise ValueError(preference)
''',
        "wrong_device_form: returns a string, not a torch.device": '''
def torch_pick_device(preference, cuda_count, mps_available):
    wanted = preference.strip().lower()
    if wanted == "auto":
        if cuda_count > 0:
            return "cuda:0"
        return "mps" if mps_available else "cpu"
    if wanted == "cpu":
        return "cpu"
    if wanted == "mps":
        if mps_available:
            return "mps"
        print("MPS is not available: using the CPU.")
        return "cpu"
    if wanted == "cuda" or wanted.startswith("cuda:"):
        index = int(wanted.split(":")[1]) if ":" in wanted else 0
        if index < cuda_count:
            return f"cuda:{index}"
        print("No such GPU: using the CPU.")
        return "cpu"
    raise ValueError(preference)
''',
        "delegates: calls sbs.devices.choose_device through an alias": '''
choose = sbs.devices.choose_device


def torch_pick_device(preference, cuda_count, mps_available):
    names = ["cpu"] + [f"cuda:{i}" for i in range(cuda_count)] + (["mps"] if mps_available else [])
    choice = choose(preference, environ={}, devices=sbs.devices.merge_devices(names, ["/CPU:0"]))
    if choice.message:
        print(choice.message)
    return torch.device(choice.torch)
''',
        "delegates: parses the preference with sbs.devices.normalize_request, reached through importlib": '''
import importlib


def torch_pick_device(preference, cuda_count, mps_available):
    wanted = importlib.import_module("sidebyside.devices").normalize_request(preference)
    if wanted == "auto":
        if cuda_count > 0:
            return torch.device("cuda:0")
        return torch.device("mps") if mps_available else torch.device("cpu")
    if wanted == "cpu":
        return torch.device("cpu")
    if wanted == "mps":
        if mps_available:
            return torch.device("mps")
        print("MPS is not available: using the CPU.")
        return torch.device("cpu")
    index = int(wanted.split(":")[1])
    if index < cuda_count:
        return torch.device("cuda", index)
    print("No such GPU: using the CPU.")
    return torch.device("cpu")
''',
    },
    "tf_pick_device": {
        "asks_this_machine: lists this machine's devices instead of the ones given": '''
def tf_pick_device(preference, physical_devices):
    gpus = tf.config.list_physical_devices("GPU")
    wanted = preference.strip().lower().lstrip("/")
    if wanted == "auto":
        return "/GPU:0" if gpus else "/CPU:0"
    if wanted in ("cpu", "cpu:0"):
        return "/CPU:0"
    if wanted == "gpu" or wanted.startswith("gpu:"):
        index = int(wanted.split(":")[1]) if ":" in wanted else 0
        if index < len(gpus):
            return f"/GPU:{index}"
        print("No such GPU: using the CPU.")
        return "/CPU:0"
    raise ValueError(preference)
''',
        "ignores_preference: ignores the preference": '''
def tf_pick_device(preference, physical_devices):
    gpus = [d for d in physical_devices if d.device_type == "GPU"]
    return "/GPU:0" if gpus else "/CPU:0"
''',
        "counts_all_devices: counts every device, not only GPUs": '''
def tf_pick_device(preference, physical_devices):
    wanted = preference.strip().lower().lstrip("/")
    has_gpu = any(d.device_type == "GPU" for d in physical_devices)
    if wanted == "auto":
        return "/GPU:0" if has_gpu else "/CPU:0"
    if wanted in ("cpu", "cpu:0"):
        return "/CPU:0"
    if wanted == "gpu" or wanted.startswith("gpu:"):
        index = int(wanted.split(":")[1]) if ":" in wanted else 0
        if has_gpu and index < len(physical_devices):
            return f"/GPU:{index}"
        print("No such GPU: using the CPU.")
        return "/CPU:0"
    raise ValueError(preference)
''',
        "no_cpu_fallback: no fallback to the CPU": '''
def tf_pick_device(preference, physical_devices):
    gpus = [d for d in physical_devices if d.device_type == "GPU"]
    wanted = preference.strip().lower().lstrip("/")
    if wanted == "auto":
        return "/GPU:0" if gpus else "/CPU:0"
    if wanted in ("cpu", "cpu:0"):
        return "/CPU:0"
    if wanted == "gpu" or wanted.startswith("gpu:"):
        index = int(wanted.split(":")[1]) if ":" in wanted else 0
        return f"/GPU:{index}"
    raise ValueError(preference)
''',
        "wrong_device_form: returns a tf.DeviceSpec, not a string": '''
def tf_pick_device(preference, physical_devices):
    gpus = [d for d in physical_devices if d.device_type == "GPU"]
    wanted = preference.strip().lower().lstrip("/")
    if wanted == "auto":
        return tf.DeviceSpec.from_string("/GPU:0" if gpus else "/CPU:0")
    if wanted in ("cpu", "cpu:0"):
        return tf.DeviceSpec.from_string("/CPU:0")
    if wanted == "gpu" or wanted.startswith("gpu:"):
        index = int(wanted.split(":")[1]) if ":" in wanted else 0
        if index < len(gpus):
            return tf.DeviceSpec.from_string(f"/GPU:{index}")
        print("No such GPU: using the CPU.")
        return tf.DeviceSpec.from_string("/CPU:0")
    raise ValueError(preference)
''',
        "case_sensitive: case-sensitive: only lower-case 'gpu:N'": '''
def tf_pick_device(preference, physical_devices):
    gpus = [d for d in physical_devices if d.device_type == "GPU"]
    if preference == "auto":
        return "/GPU:0" if gpus else "/CPU:0"
    if preference == "cpu":
        return "/CPU:0"
    if preference == "gpu" or preference.startswith("gpu:"):
        index = int(preference.split(":")[1]) if ":" in preference else 0
        if index < len(gpus):
            return f"/GPU:{index}"
        print("No such GPU: using the CPU.")
        return "/CPU:0"
    raise ValueError(preference)
''',
        "delegates: calls sbs.devices.choose_device through getattr": '''
def tf_pick_device(preference, physical_devices):
    gpus = [d for d in physical_devices if d.device_type == "GPU"]
    names = ["/CPU:0"] + [f"/GPU:{i}" for i in range(len(gpus))]
    choose = getattr(sbs.devices, "choose" + "_device")
    choice = choose(preference, environ={}, devices=sbs.devices.merge_devices(["cpu"], names))
    if choice.message:
        print(choice.message)
    return choice.tensorflow
''',
        "delegates: the device picker of lesson 04, captured before the test runs": '''
from sidebyside.widgets.device_panels import DevicePicker as _Picker


def tf_pick_device(preference, physical_devices, _picker=_Picker):
    gpus = [d for d in physical_devices if d.device_type == "GPU"]
    available = sbs.devices.merge_devices(["cpu"], ["/CPU:0"] + [f"/GPU:{i}" for i in range(len(gpus))])
    picker = _picker(available, {}, initial=preference, environ={})
    if picker.choice.message:
        print(picker.choice.message)
    return picker.choice.tensorflow
''',
    },
    "torch_predict": {
        "tensor_to_not_in_place: the original bug: X.to(device) thrown away": '''
def torch_predict(model, X, device):
    model.to(device)
    X.to(device)
    model.eval()
    with torch.no_grad():
        return model(X)
''',
        "model_not_moved: moves the batch but not the model": '''
def torch_predict(model, X, device):
    X = X.to(device)
    model.eval()
    with torch.no_grad():
        return model(X)
''',
        "tracks_gradients: tracks gradients": '''
def torch_predict(model, X, device):
    model = model.to(device)
    X = X.to(device)
    model.eval()
    return model(X)
''',
        "dropout_in_training_mode: forgets evaluation mode (dropout stays on)": '''
def torch_predict(model, X, device):
    model = model.to(device)
    X = X.to(device)
    with torch.no_grad():
        return model(X)
''',
        "output_moved_to_cpu: brings the output back to the CPU": '''
def torch_predict(model, X, device):
    model = model.to(device)
    X = X.to(device)
    model.eval()
    with torch.no_grad():
        return model(X).cpu()
''',
    },
    "tf_predict": {
        "tf_device_without_with: the original bug: tf.device(device) without with": '''
def tf_predict(model, X, device):
    tf.device(device)
    return model(X, training=False)
''',
        "dropout_in_training_mode: training=True (dropout stays on)": '''
def tf_predict(model, X, device):
    with tf.device(device):
        return model(X, training=True)
''',
        "returns_numpy: returns NumPy from model.predict": '''
def tf_predict(model, X, device):
    with tf.device(device):
        return model.predict(X, verbose=0)
''',
        "cheats: hard-codes the device of the visible check": '''
def tf_predict(model, X, device):
    with tf.device("/CPU:1"):
        return model(X, training=False)
''',
    },
    "torch_time": {
        "never_synchronizes: never synchronizes": '''
def torch_time(fn, device, repeat=5, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times
''',
        "asks_this_machine: synchronizes only if this machine has CUDA": '''
def torch_time(fn, device, repeat=5, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return times
''',
        "averages_the_loop: synchronizes once, after the loop": '''
def torch_time(fn, device, repeat=5, warmup=2):
    device = torch.device(device)
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
    return [(time.perf_counter() - start) / repeat] * repeat
''',
        "no_warmup: no warm-up": '''
def torch_time(fn, device, repeat=5, warmup=2):
    device = torch.device(device)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        elif device.type == "mps":
            torch.mps.synchronize()
        times.append(time.perf_counter() - start)
    return times
''',
        "forgets_mps: synchronizes CUDA but not MPS": '''
def torch_time(fn, device, repeat=5, warmup=2):
    device = torch.device(device)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return times
''',
        "waits_before_call: waits before each call instead of after it": '''
def torch_time(fn, device, repeat=5, warmup=2):
    device = torch.device(device)

    def wait():
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        elif device.type == "mps":
            torch.mps.synchronize()

    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        wait()
        fn()
        times.append(time.perf_counter() - start)
    return times
''',
        "delegates: calls sbs.timing.measure through getattr": '''
def torch_time(fn, device, repeat=5, warmup=2):
    timing = getattr(sbs, "timing")
    result = getattr(timing, "measure")(fn, repeat=repeat, warmup=max(warmup - 1, 0), synchronize=timing.torch_synchronizer(device))
    return list(result.times_s)
''',
        "delegates: sbs.timing's synchronizer, captured at import": '''
from sidebyside.timing import torch_synchronizer as _synchronizer


def torch_time(fn, device, repeat=5, warmup=2):
    wait = _synchronizer(device)
    for _ in range(warmup):
        wait(fn())
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        wait(fn())
        times.append(time.perf_counter() - start)
    return times
''',
    },
    "tf_time": {
        "never_synchronizes: never waits for TensorFlow": '''
def tf_time(fn, repeat=5, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times
''',
        "stops_clock_before_waiting: reads the result back after stopping the clock": '''
def tf_time(fn, repeat=5, warmup=2):
    for _ in range(warmup):
        fn().numpy()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        result.numpy()
    return times
''',
        "no_warmup: no warm-up": '''
def tf_time(fn, repeat=5, warmup=2):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn().numpy()
        times.append(time.perf_counter() - start)
    return times
''',
        "averages_the_loop: returns the mean, not a list": '''
def tf_time(fn, repeat=5, warmup=2):
    for _ in range(warmup):
        fn().numpy()
    start = time.perf_counter()
    for _ in range(repeat):
        fn().numpy()
    return (time.perf_counter() - start) / repeat
''',
        "waits_before_call: waits before each call instead of after it": '''
def tf_time(fn, repeat=5, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        tf.test.experimental.sync_devices()
        fn()
        times.append(time.perf_counter() - start)
    return times
''',
        "delegates: calls sbs.timing.measure through an alias": '''
measure = sbs.timing.measure


def tf_time(fn, repeat=5, warmup=2):
    result = measure(fn, repeat=repeat, warmup=max(warmup - 1, 0), synchronize=lambda result: result.numpy())
    return list(result.times_s)
''',
        "delegates: sbs.timing.tensorflow_synchronizer, reached through importlib": '''
import importlib


def tf_time(fn, repeat=5, warmup=2):
    wait = importlib.import_module("sidebyside.timing").tensorflow_synchronizer()
    for _ in range(warmup):
        wait(fn())
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        wait(fn())
        times.append(time.perf_counter() - start)
    return times
''',
    },
    "torch_from_tf": {
        "copies_through_numpy: copies through NumPy (torch.tensor)": '''
def torch_from_tf(x):
    return torch.tensor(x.numpy())
''',
        "copies_through_numpy: copies through NumPy (torch.from_numpy)": '''
def torch_from_tf(x):
    return torch.from_numpy(x.numpy())
''',
        "converts_dtype: converts to float32 (a copy for other dtypes)": '''
def torch_from_tf(x):
    return torch.from_dlpack(x).float()
''',
    },
    "tf_from_torch": {
        "copies_through_numpy: copies through NumPy (tf.constant)": '''
def tf_from_torch(t):
    return tf.constant(t.detach().numpy())
''',
        "copies_through_numpy: copies through NumPy (tf.convert_to_tensor)": '''
def tf_from_torch(t):
    return tf.convert_to_tensor(t.detach().numpy())
''',
        "dlpack_needs_detach: the DLPack protocol without detach (fails when t requires grad)": '''
def tf_from_torch(t):
    return tf.experimental.dlpack.from_dlpack(t.__dlpack__())
''',
    },
}
