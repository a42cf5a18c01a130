"""Right answers for 06-deployment: each must keep its test cell's full marks.

Each value is the complete source of the answer cell, written another valid way than the
solution: another API spelling, another order, or following the task's statement literally
(raising on anything the statement does not allow, so that a hidden test using an input the
statement does not state loses points and shows up here).
"""

RIGHT_ANSWERS = {
    "torch_export": {
        "Dim.DYNAMIC and model.train(False)": '''
def torch_export(model, example):
    model.train(False)
    return torch.export.export(model, args=(example,), dynamic_shapes=({0: torch.export.Dim.DYNAMIC},))
''',
        "follows the statement literally": '''
def torch_export(model, example):
    if type(example) is not torch.Tensor or example.dim() != 2 or example.dtype != torch.float32 or example.shape[0] < 2:
        raise ValueError(f"example must be a 2-D float32 tensor with at least 2 rows, got {type(example).__name__} {getattr(example, 'shape', '')}")
    model.eval()
    rows = torch.export.Dim("rows", min=1, max=1024)
    return torch.export.export(model, (example,), dynamic_shapes=({0: rows},))
''',
    },
    "tf_export": {
        "tf.Module and tf.saved_model.save": '''
def tf_export(model, path):
    n_features = model.inputs[0].shape[-1]
    module = tf.Module()
    module.model = model

    @tf.function(input_signature=[tf.TensorSpec([None, n_features], tf.float32, name="pixels")])
    def serve(pixels):
        logits = module.model(pixels, training=False)
        return {"probabilities": tf.nn.softmax(logits, axis=-1)}

    module.serve = serve
    tf.saved_model.save(module, str(path), signatures={"serving_default": serve})
''',
        "ExportArchive with the signature on the endpoint": '''
def tf_export(model, path):
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serving_default",
        fn=lambda pixels: {"probabilities": keras.ops.softmax(model(pixels, training=False))},
        input_signature=[tf.TensorSpec((None, model.input_shape[-1]), tf.float32, name="pixels")],
    )
    archive.write_out(str(path), verbose=False)
''',
    },
    "torch_handler": {
        "functional softmax, inference_mode, weights_only": '''
import torch.nn.functional as F


class TorchDigitsHandler:
    """Loads once; one answer per request."""

    def initialize(self, context):
        weights = torch.load(Path(context.system_properties["model_dir"]) / "weights.pt", map_location="cpu", weights_only=True)
        model = make_torch_model()
        model.load_state_dict(weights)
        self.model = model.eval()

    def postprocess(self, outputs):
        return [{"predictions": F.softmax(logits, dim=-1).cpu().numpy().tolist()} for logits in outputs]

    def inference(self, batches):
        with torch.inference_mode():
            return [self.model(X) for X in batches]

    def preprocess(self, data):
        return [torch.tensor(request["body"]["instances"], dtype=torch.float32).div(16.0) for request in data]

    def handle(self, data, context):
        return self.postprocess(self.inference(self.preprocess(data)))
''',
        "follows the statement literally": '''
class TorchDigitsHandler:
    def initialize(self, context):
        path = os.path.join(context.system_properties["model_dir"], "weights.pt")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no weights.pt in the model folder: {path}")
        self.model = make_torch_model()
        self.model.load_state_dict(torch.load(path))
        self.model.eval()

    def preprocess(self, data):
        batches = []
        for request in data:
            body = request["body"]
            if type(body) is not dict or list(body) != ["instances"]:
                raise ValueError(f'expected the body {{"instances": rows}}, got {body!r:.80}')
            X = torch.as_tensor(body["instances"], dtype=torch.float32)
            if X.dim() != 2 or X.shape[1] != 64:
                raise ValueError(f"expected rows of 64 pixel counts, got shape {tuple(X.shape)}")
            batches.append(X / 16)
        return batches

    def inference(self, batches):
        with torch.no_grad():
            return [self.model(X) for X in batches]

    def postprocess(self, outputs):
        return [{"predictions": torch.softmax(logits, dim=1).tolist()} for logits in outputs]

    def handle(self, data, context):
        return self.postprocess(self.inference(self.preprocess(data)))
''',
    },
    "tf_serving_function": {
        "argmax of the logits, keras.ops": '''
def tf_serving_function(model):
    def serve(pixels):
        logits = model(tf.math.divide(pixels, 16.0), training=False)
        return {"probabilities": keras.ops.softmax(logits, axis=-1), "classes": tf.math.argmax(logits, axis=-1, output_type=tf.int64)}

    return tf.function(serve, input_signature=[tf.TensorSpec(shape=[None, 64], dtype=tf.float32, name="pixels")])
''',
    },
    "torch_client": {
        "headers added after, bytes decoded by json.loads": '''
def torchserve_request(base_url, model_name, X):
    request = urllib.request.Request(base_url + "/predictions/" + model_name, method="POST")
    request.add_header("Content-Type", "application/json")
    request.data = json.dumps({"instances": [list(map(float, row)) for row in X]}).encode("utf-8")
    return request


def torchserve_parse(answer):
    return np.array(json.loads(answer.decode("utf-8"))["predictions"]).astype(np.float32)
''',
        "follows the statement literally": '''
def torchserve_request(base_url, model_name, X):
    if type(X) is not np.ndarray or X.ndim != 2:
        raise TypeError(f"X must be a 2-D NumPy array, got {type(X).__name__} {getattr(X, 'shape', '')}")
    body = json.dumps({"instances": X.tolist()}).encode()
    return urllib.request.Request(f"{base_url}/predictions/{model_name}", data=body, headers={"Content-Type": "application/json"}, method="POST")


def torchserve_parse(answer):
    parsed = json.loads(answer)
    if list(parsed) != ["predictions"]:
        raise ValueError(f"expected {{'predictions': ...}}, got the keys {list(parsed)}")
    return np.asarray(parsed["predictions"], dtype=np.float32)
''',
    },
    "tf_client": {
        "signature first, explicit keys": '''
def tf_serving_request(base_url, model_name, X, signature_name=None):
    body = {} if signature_name is None else {"signature_name": signature_name}
    body["instances"] = X.tolist()
    url = "{}/v1/models/{}:predict".format(base_url, model_name)
    return urllib.request.Request(url, json.dumps(body).encode("utf-8"), {"Content-Type": "application/json"})


def tf_serving_parse(answer):
    parsed = json.loads(answer)
    if "predictions" in parsed:
        return np.array(parsed["predictions"], dtype="float32")
    raise ValueError(parsed.get("error", f"no predictions in {answer[:80]!r}"))
''',
        "follows the statement literally": '''
def tf_serving_request(base_url, model_name, X, signature_name=None):
    if signature_name is not None and type(signature_name) is not str:
        raise TypeError(f"signature_name must be a string or None, got {signature_name!r}")
    if type(X) is not np.ndarray or X.ndim != 2:
        raise TypeError(f"X must be a 2-D NumPy array, got {type(X).__name__}")
    body = {"instances": X.tolist()}
    if signature_name is not None:
        body["signature_name"] = signature_name
    return urllib.request.Request(f"{base_url}/v1/models/{model_name}:predict", data=json.dumps(body).encode(),
                                  headers={"Content-Type": "application/json"}, method="POST")


def tf_serving_parse(answer):
    parsed = json.loads(answer)
    if set(parsed) == {"error"}:
        raise ValueError(f"the server answered an error: {parsed['error']}")
    if set(parsed) != {"predictions"}:
        raise ValueError(f"expected {{'predictions': ...}} or {{'error': ...}}, got the keys {sorted(parsed)}")
    return np.asarray(parsed["predictions"], dtype=np.float32)
''',
    },
    "torch_latency_summary": {
        "NumPy's percentile": '''
def torch_latency_summary(latencies, wall_seconds, rows_per_request):
    p50, p99 = np.percentile(np.asarray(latencies) * 1000, [50, 99])
    n = len(latencies)
    return {"p50_ms": float(p50), "p99_ms": float(p99), "requests_per_s": n / wall_seconds, "rows_per_s": n * rows_per_request / wall_seconds}
''',
        "statistics.quantiles, inclusive": '''
import statistics


def torch_latency_summary(latencies, wall_seconds, rows_per_request):
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    n = len(latencies)
    return {"p50_ms": cuts[49] * 1e3, "p99_ms": cuts[98] * 1e3, "requests_per_s": n / wall_seconds, "rows_per_s": rows_per_request * n / wall_seconds}
''',
        "follows the statement literally": '''
def torch_latency_summary(latencies, wall_seconds, rows_per_request):
    if type(latencies) is not list or len(latencies) < 2 or any(type(x) is not float or x <= 0 for x in latencies):
        raise ValueError(f"latencies must be a list of at least 2 positive floats, got {latencies!r:.80}")
    if type(wall_seconds) is not float or wall_seconds <= 0:
        raise ValueError(f"wall_seconds must be a positive float, got {wall_seconds!r}")
    if type(rows_per_request) is not int or rows_per_request < 1:
        raise ValueError(f"rows_per_request must be a positive int, got {rows_per_request!r}")
    values = torch.sort(torch.tensor(latencies, dtype=torch.float64)).values
    p50 = torch.quantile(values, 0.5, interpolation="linear").item()
    p99 = torch.quantile(values, 0.99, interpolation="linear").item()
    n = len(latencies)
    return {"p50_ms": p50 * 1e3, "p99_ms": p99 * 1e3, "requests_per_s": n / wall_seconds, "rows_per_s": n * rows_per_request / wall_seconds}
''',
        "the lesson's keys too (requests, mean_ms): extra keys are allowed": '''
def torch_latency_summary(latencies, wall_seconds, rows_per_request):
    values = torch.tensor(latencies, dtype=torch.float64)
    p50, p99 = torch.quantile(values, torch.tensor([0.5, 0.99], dtype=torch.float64)).tolist()
    n = len(latencies)
    return {"requests": n, "p50_ms": p50 * 1e3, "p99_ms": p99 * 1e3, "mean_ms": values.mean().item() * 1e3,
            "requests_per_s": n / wall_seconds, "rows_per_s": n * rows_per_request / wall_seconds}
''',
    },
    "tf_latency_summary": {
        "all in TensorFlow ops": '''
def tf_latency_summary(latencies, wall_seconds, rows_per_request):
    ordered = tf.sort(tf.convert_to_tensor(latencies, dtype=tf.float64))
    n = tf.size(ordered)

    def percentile(q):
        position = q * tf.cast(n - 1, tf.float64)
        low = tf.cast(tf.math.floor(position), tf.int32)
        high = tf.minimum(low + 1, n - 1)
        weight = position - tf.cast(low, tf.float64)
        return float((1 - weight) * tf.gather(ordered, low) + weight * tf.gather(ordered, high))

    count = len(latencies)
    return {"p50_ms": 1e3 * percentile(0.5), "p99_ms": 1e3 * percentile(0.99), "requests_per_s": count / wall_seconds, "rows_per_s": count * rows_per_request / wall_seconds}
''',
        "NumPy's percentile": '''
def tf_latency_summary(latencies, wall_seconds, rows_per_request):
    values = np.sort(np.array(latencies))
    n = len(values)
    return {"p50_ms": float(np.percentile(values, 50)) * 1e3, "p99_ms": float(np.percentile(values, 99)) * 1e3,
            "requests_per_s": n / wall_seconds, "rows_per_s": n * rows_per_request / wall_seconds}
''',
        "follows the statement literally": '''
def tf_latency_summary(latencies, wall_seconds, rows_per_request):
    if type(latencies) is not list or len(latencies) < 2 or any(type(x) is not float or x <= 0 for x in latencies):
        raise ValueError(f"latencies must be a list of at least 2 positive floats, got {latencies!r:.80}")
    if type(wall_seconds) is not float or wall_seconds <= 0:
        raise ValueError(f"wall_seconds must be a positive float, got {wall_seconds!r}")
    if type(rows_per_request) is not int or rows_per_request < 1:
        raise ValueError(f"rows_per_request must be a positive int, got {rows_per_request!r}")
    ordered = tf.sort(tf.constant(latencies, dtype=tf.float64)).numpy()
    n = len(ordered)

    def percentile(q):
        position = q * (n - 1)
        low = int(position // 1)
        high = min(low + 1, n - 1)
        return float(ordered[low] * (1 - (position - low)) + ordered[high] * (position - low))

    return {"p50_ms": percentile(0.5) * 1e3, "p99_ms": percentile(0.99) * 1e3, "requests_per_s": n / wall_seconds, "rows_per_s": n * rows_per_request / wall_seconds}
''',
        "the lesson's keys too (requests, mean_ms): extra keys are allowed": '''
def tf_latency_summary(latencies, wall_seconds, rows_per_request):
    ordered = tf.sort(tf.constant(latencies, dtype=tf.float64))
    n = int(ordered.shape[0])

    def percentile(q):
        position = q * (n - 1)
        low = int(np.floor(position))
        high = min(low + 1, n - 1)
        return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))

    return {"requests": n, "p50_ms": percentile(0.5) * 1e3, "p99_ms": percentile(0.99) * 1e3, "mean_ms": float(tf.reduce_mean(ordered)) * 1e3,
            "requests_per_s": n / wall_seconds, "rows_per_s": n * rows_per_request / wall_seconds}
''',
    },
}
