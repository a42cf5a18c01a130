"""Wrong answers for 06-deployment: each must lose its test cell's points.

Each value is the complete source of the answer cell, as a student might write it.

Each name starts with what the answer is: the misconception it embodies (an id of
sidebyside/misconceptions/06-deployment.toml), which its test must name, or a plain category
(tests/stored_answers.py: ``delegates``, ``crashes``, ``cheats``).

Names that start with "delegates:" hand the task to the course package (``sidebyside.serving``),
however they reach it: ``checks.own_work`` makes them score 0.
"""

_HANDLER_TAIL = '''
    def handle(self, data, context):
        return self.postprocess(self.inference(self.preprocess(data)))
'''

WRONG_ANSWERS = {
    "torch_export": {
        "fixed_batch_size: fixed batch dimension": '''
def torch_export(model, example):
    model.eval()
    return torch.export.export(model, (example,))
''',
        "training_mode: missing model.eval()": '''
def torch_export(model, example):
    batch = torch.export.Dim("batch", min=1, max=4096)
    return torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
''',
        "module_not_program: returns the loaded module, not the program": '''
def torch_export(model, example):
    model.eval()
    batch = torch.export.Dim("batch", min=1, max=4096)
    return torch.export.export(model, (example,), dynamic_shapes=({0: batch},)).module()
''',
        "delegates: calls serving.export_torch": '''
def torch_export(model, example):
    return serving.export_torch(model, example)
''',
        "delegates: calls serving.export_torch through importlib": '''
import importlib


def torch_export(model, example):
    return getattr(importlib.import_module("sidebyside.serving"), "export_torch")(model, example)
''',
        "delegates: a reference to serving.export_torch captured at import": '''
from sidebyside.serving import export_torch as _export

def torch_export(model, example, _export=_export):
    return _export(model, example)
''',
    },
    "tf_export": {
        "fixed_batch_size: fixed batch dimension": '''
def tf_export(model, path):
    n_features = model.inputs[0].shape[-1]

    @tf.function(input_signature=[tf.TensorSpec((32, n_features), tf.float32, name="pixels")])
    def serve(pixels):
        return {"probabilities": tf.nn.softmax(model(pixels, training=False))}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serving_default", fn=serve)
    archive.write_out(str(path), verbose=False)
''',
        "signature_input_name: wrong signature input name (model.export as it is)": '''
def tf_export(model, path):
    model.export(str(path), verbose=False)
''',
        "signature_input_name: wrong signature input name ('inputs')": '''
def tf_export(model, path):
    n_features = model.inputs[0].shape[-1]

    @tf.function(input_signature=[tf.TensorSpec((None, n_features), tf.float32, name="inputs")])
    def serve(inputs):
        return {"probabilities": tf.nn.softmax(model(inputs, training=False))}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serving_default", fn=serve)
    archive.write_out(str(path), verbose=False)
''',
        "softmax_twice: softmax applied twice": '''
def tf_export(model, path):
    n_features = model.inputs[0].shape[-1]

    @tf.function(input_signature=[tf.TensorSpec((None, n_features), tf.float32, name="pixels")])
    def serve(pixels):
        probabilities = tf.nn.softmax(model(pixels, training=False))
        return {"probabilities": tf.nn.softmax(probabilities)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serving_default", fn=serve)
    archive.write_out(str(path), verbose=False)
''',
        "training_mode: training=True in the signature (dropout at serving time)": '''
def tf_export(model, path):
    n_features = model.inputs[0].shape[-1]

    @tf.function(input_signature=[tf.TensorSpec((None, n_features), tf.float32, name="pixels")])
    def serve(pixels):
        return {"probabilities": tf.nn.softmax(model(pixels, training=True))}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serving_default", fn=serve)
    archive.write_out(str(path), verbose=False)
''',
        "delegates: calls serving.export_keras": '''
def tf_export(model, path):
    serving.export_keras(model, path)
''',
        "delegates: calls serving.export_keras through getattr": '''
def tf_export(model, path):
    getattr(serving, "export_" + "keras")(model, path, input_name="pixels")
''',
        "divides_scaled_pixels: divides by 16 in the export signature (task 2's serving code, not task 1's)": '''
def tf_export(model, path):
    n_features = model.inputs[0].shape[-1]

    @tf.function(input_signature=[tf.TensorSpec((None, n_features), tf.float32, name="pixels")])
    def serve(pixels):
        return {"probabilities": tf.nn.softmax(model(pixels / 16.0, training=False))}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serving_default", fn=serve)
    archive.write_out(str(path), verbose=False)
''',
    },
    "torch_handler": {
        "training_mode: missing model.eval()": '''
class TorchDigitsHandler:
    def initialize(self, context):
        self.model = make_torch_model()
        self.model.load_state_dict(torch.load(os.path.join(context.system_properties["model_dir"], "weights.pt")))

    def preprocess(self, data):
        return [torch.as_tensor(request["body"]["instances"], dtype=torch.float32) / 16 for request in data]

    def inference(self, batches):
        with torch.no_grad():
            return [self.model(X) for X in batches]

    def postprocess(self, outputs):
        return [{"predictions": torch.softmax(logits, dim=1).tolist()} for logits in outputs]
''' + _HANDLER_TAIL,
        "softmax_twice: softmax applied twice": '''
class TorchDigitsHandler:
    def initialize(self, context):
        self.model = make_torch_model()
        self.model.load_state_dict(torch.load(os.path.join(context.system_properties["model_dir"], "weights.pt")))
        self.model.eval()

    def preprocess(self, data):
        return [torch.as_tensor(request["body"]["instances"], dtype=torch.float32) / 16 for request in data]

    def inference(self, batches):
        with torch.no_grad():
            return [torch.softmax(self.model(X), dim=1) for X in batches]

    def postprocess(self, outputs):
        return [{"predictions": torch.softmax(probabilities, dim=1).tolist()} for probabilities in outputs]
''' + _HANDLER_TAIL,
        "pixels_not_scaled: pixels not scaled": '''
class TorchDigitsHandler:
    def initialize(self, context):
        self.model = make_torch_model()
        self.model.load_state_dict(torch.load(os.path.join(context.system_properties["model_dir"], "weights.pt")))
        self.model.eval()

    def preprocess(self, data):
        return [torch.as_tensor(request["body"]["instances"], dtype=torch.float32) for request in data]

    def inference(self, batches):
        with torch.no_grad():
            return [self.model(X) for X in batches]

    def postprocess(self, outputs):
        return [{"predictions": torch.softmax(logits, dim=1).tolist()} for logits in outputs]
''' + _HANDLER_TAIL,
        "one_answer_for_all_requests: one answer for all the requests": '''
class TorchDigitsHandler:
    def initialize(self, context):
        self.model = make_torch_model()
        self.model.load_state_dict(torch.load(os.path.join(context.system_properties["model_dir"], "weights.pt")))
        self.model.eval()

    def preprocess(self, data):
        return [torch.cat([torch.as_tensor(request["body"]["instances"], dtype=torch.float32) / 16 for request in data])]

    def inference(self, batches):
        with torch.no_grad():
            return [self.model(X) for X in batches]

    def postprocess(self, outputs):
        return [{"predictions": torch.softmax(logits, dim=1).tolist()} for logits in outputs]
''' + _HANDLER_TAIL,
        "tensors_in_answer: tensors in the answer (not JSON)": '''
class TorchDigitsHandler:
    def initialize(self, context):
        self.model = make_torch_model()
        self.model.load_state_dict(torch.load(os.path.join(context.system_properties["model_dir"], "weights.pt")))
        self.model.eval()

    def preprocess(self, data):
        return [torch.as_tensor(request["body"]["instances"], dtype=torch.float32) / 16 for request in data]

    def inference(self, batches):
        with torch.no_grad():
            return [self.model(X) for X in batches]

    def postprocess(self, outputs):
        return [{"predictions": torch.softmax(logits, dim=1)} for logits in outputs]
''' + _HANDLER_TAIL,
        "delegates: inherits the course's TorchServeHandler": '''
class TorchDigitsHandler(serving.TorchServeHandler):
    def initialize(self, context):
        self.model = make_torch_model()
        self.model.load_state_dict(torch.load(os.path.join(context.system_properties["model_dir"], "weights.pt")))
        self.model.eval()
        self.initialized = True

    def preprocess(self, data):
        return [X / 16 for X in super().preprocess(data)]
''',
        "delegates: calls the course handler's methods through a captured reference": '''
_course_handler = __import__("sidebyside.serving", fromlist=["TorchServeHandler"]).TorchServeHandler


class TorchDigitsHandler:
    def initialize(self, context):
        self.model = make_torch_model()
        self.model.load_state_dict(torch.load(os.path.join(context.system_properties["model_dir"], "weights.pt")))
        self.model.eval()

    def preprocess(self, data):
        return [torch.as_tensor(request["body"]["instances"], dtype=torch.float32) / 16 for request in data]

    def inference(self, batches):
        return _course_handler.inference(self, batches)

    def postprocess(self, outputs):
        return _course_handler.postprocess(self, outputs)
''' + _HANDLER_TAIL,
        "probabilities_from_inference: inference() returns probabilities, postprocess() only converts them": '''
class TorchDigitsHandler:
    def initialize(self, context):
        self.model = make_torch_model()
        self.model.load_state_dict(torch.load(os.path.join(context.system_properties["model_dir"], "weights.pt")))
        self.model.eval()

    def preprocess(self, data):
        return [torch.as_tensor(request["body"]["instances"], dtype=torch.float32) / 16 for request in data]

    def inference(self, batches):
        with torch.no_grad():
            return [torch.softmax(self.model(X), dim=1) for X in batches]

    def postprocess(self, outputs):
        return [{"predictions": probabilities.tolist()} for probabilities in outputs]
''' + _HANDLER_TAIL,
    },
    "tf_serving_function": {
        "softmax_twice: softmax applied twice": '''
def tf_serving_function(model):
    @tf.function(input_signature=[tf.TensorSpec((None, 64), tf.float32, name="pixels")])
    def serve(pixels):
        probabilities = tf.nn.softmax(tf.nn.softmax(model(pixels / 16.0, training=False)))
        return {"probabilities": probabilities, "classes": tf.argmax(probabilities, axis=1)}

    return serve
''',
        "pixels_not_scaled: pixels not scaled": '''
def tf_serving_function(model):
    @tf.function(input_signature=[tf.TensorSpec((None, 64), tf.float32, name="pixels")])
    def serve(pixels):
        probabilities = tf.nn.softmax(model(pixels, training=False))
        return {"probabilities": probabilities, "classes": tf.argmax(probabilities, axis=1)}

    return serve
''',
        "signature_input_name: wrong signature input name": '''
def tf_serving_function(model):
    @tf.function(input_signature=[tf.TensorSpec((None, 64), tf.float32, name="inputs")])
    def serve(inputs):
        probabilities = tf.nn.softmax(model(inputs / 16.0, training=False))
        return {"probabilities": probabilities, "classes": tf.argmax(probabilities, axis=1)}

    return serve
''',
        "fixed_batch_size: fixed batch dimension": '''
def tf_serving_function(model):
    @tf.function(input_signature=[tf.TensorSpec((1, 64), tf.float32, name="pixels")])
    def serve(pixels):
        probabilities = tf.nn.softmax(model(pixels / 16.0, training=False))
        return {"probabilities": probabilities, "classes": tf.argmax(probabilities, axis=1)}

    return serve
''',
        "training_mode: dropout left on (training=True)": '''
def tf_serving_function(model):
    @tf.function(input_signature=[tf.TensorSpec((None, 64), tf.float32, name="pixels")])
    def serve(pixels):
        probabilities = tf.nn.softmax(model(pixels / 16.0, training=True))
        return {"probabilities": probabilities, "classes": tf.argmax(probabilities, axis=1)}

    return serve
''',
        "delegates: serves what serving.export_keras wrote": '''
def tf_serving_function(model):
    import tempfile

    folder = tempfile.mkdtemp()
    serving.export_keras(model, folder)
    signature = tf.saved_model.load(folder).signatures["serving_default"]

    @tf.function(input_signature=[tf.TensorSpec((None, 64), tf.float32, name="pixels")])
    def serve(pixels):
        probabilities = signature(pixels=pixels / 16.0)["probabilities"]
        return {"probabilities": probabilities, "classes": tf.argmax(probabilities, axis=1)}

    return serve
''',
    },
    "torch_client": {
        "columnar_keys: instances and inputs confused": '''
def torchserve_request(base_url, model_name, X):
    body = json.dumps({"inputs": np.asarray(X).tolist()}).encode()
    return urllib.request.Request(f"{base_url}/predictions/{model_name}", data=body, headers={"Content-Type": "application/json"})


def torchserve_parse(answer):
    return np.asarray(json.loads(answer)["predictions"], dtype=np.float32)
''',
        "other_servers_url: TensorFlow Serving's URL": '''
def torchserve_request(base_url, model_name, X):
    body = json.dumps({"instances": np.asarray(X).tolist()}).encode()
    return urllib.request.Request(f"{base_url}/v1/models/{model_name}:predict", data=body, headers={"Content-Type": "application/json"})


def torchserve_parse(answer):
    return np.asarray(json.loads(answer)["predictions"], dtype=np.float32)
''',
        "parse_returns_list: parses into a list, not a float32 array": '''
def torchserve_request(base_url, model_name, X):
    body = json.dumps({"instances": np.asarray(X).tolist()}).encode()
    return urllib.request.Request(f"{base_url}/predictions/{model_name}", data=body, headers={"Content-Type": "application/json"})


def torchserve_parse(answer):
    return json.loads(answer)["predictions"]
''',
        "delegates: builds the body with serving.torch_predict_body": '''
def torchserve_request(base_url, model_name, X):
    body = json.dumps(serving.torch_predict_body(np.asarray(X))).encode()
    return urllib.request.Request(f"{base_url}/predictions/{model_name}", data=body, headers={"Content-Type": "application/json"})


def torchserve_parse(answer):
    return np.asarray(json.loads(answer)["predictions"], dtype=np.float32)
''',
        "body_not_bytes: the body is a str, which urlopen refuses to send": '''
def torchserve_request(base_url, model_name, X):
    body = json.dumps({"instances": np.asarray(X).tolist()})
    return urllib.request.Request(f"{base_url}/predictions/{model_name}", data=body, headers={"Content-Type": "application/json"}, method="POST")


def torchserve_parse(answer):
    return np.asarray(json.loads(answer)["predictions"], dtype=np.float32)
''',
    },
    "tf_client": {
        "columnar_keys: instances and inputs confused": '''
def tf_serving_request(base_url, model_name, X, signature_name=None):
    body = {"inputs": np.asarray(X).tolist()}
    if signature_name is not None:
        body["signature_name"] = signature_name
    return urllib.request.Request(f"{base_url}/v1/models/{model_name}:predict", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


def tf_serving_parse(answer):
    parsed = json.loads(answer)
    if "error" in parsed:
        raise ValueError(parsed["error"])
    return np.asarray(parsed["outputs"], dtype=np.float32)
''',
        "columnar_keys: reads 'outputs' from a row-format answer": '''
def tf_serving_request(base_url, model_name, X, signature_name=None):
    body = {"instances": np.asarray(X).tolist()}
    if signature_name is not None:
        body["signature_name"] = signature_name
    return urllib.request.Request(f"{base_url}/v1/models/{model_name}:predict", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


def tf_serving_parse(answer):
    parsed = json.loads(answer)
    if "error" in parsed:
        raise ValueError(parsed["error"])
    return np.asarray(parsed.get("outputs", []), dtype=np.float32)
''',
        "error_not_raised: an error answer is not an error": '''
def tf_serving_request(base_url, model_name, X, signature_name=None):
    body = {"instances": np.asarray(X).tolist()}
    if signature_name is not None:
        body["signature_name"] = signature_name
    return urllib.request.Request(f"{base_url}/v1/models/{model_name}:predict", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


def tf_serving_parse(answer):
    return np.asarray(json.loads(answer).get("predictions", []), dtype=np.float32)
''',
        "signature_name_dropped: forgets the signature name": '''
def tf_serving_request(base_url, model_name, X, signature_name=None):
    body = {"instances": np.asarray(X).tolist()}
    return urllib.request.Request(f"{base_url}/v1/models/{model_name}:predict", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


def tf_serving_parse(answer):
    parsed = json.loads(answer)
    if "error" in parsed:
        raise ValueError(parsed["error"])
    return np.asarray(parsed["predictions"], dtype=np.float32)
''',
        "delegates: builds the body with serving.tf_predict_body": '''
def tf_serving_request(base_url, model_name, X, signature_name=None):
    body = serving.tf_predict_body(np.asarray(X), signature_name)
    return urllib.request.Request(f"{base_url}/v1/models/{model_name}:predict", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


def tf_serving_parse(answer):
    parsed = json.loads(answer)
    if "error" in parsed:
        raise ValueError(parsed["error"])
    return np.asarray(parsed["predictions"], dtype=np.float32)
''',
        "body_not_bytes: the body is a str, which urlopen refuses to send": '''
def tf_serving_request(base_url, model_name, X, signature_name=None):
    body = {"instances": np.asarray(X).tolist()}
    if signature_name is not None:
        body["signature_name"] = signature_name
    return urllib.request.Request(f"{base_url}/v1/models/{model_name}:predict", data=json.dumps(body), headers={"Content-Type": "application/json"}, method="POST")


def tf_serving_parse(answer):
    parsed = json.loads(answer)
    if "error" in parsed:
        raise ValueError(parsed["error"])
    return np.asarray(parsed["predictions"], dtype=np.float32)
''',
    },
    "torch_latency_summary": {
        "percentile_unsorted: percentiles from the unsorted list": '''
def torch_latency_summary(latencies, wall_seconds, rows_per_request):
    values = torch.tensor(latencies, dtype=torch.float64)
    n = len(latencies)

    def percentile(q):
        position = q * (n - 1)
        low = int(position)
        high = min(low + 1, n - 1)
        return float(values[low] + (values[high] - values[low]) * (position - low))

    return {"p50_ms": percentile(0.5) * 1e3, "p99_ms": percentile(0.99) * 1e3, "requests_per_s": n / wall_seconds, "rows_per_s": n * rows_per_request / wall_seconds}
''',
        "mean_not_percentile: p50 from the mean": '''
def torch_latency_summary(latencies, wall_seconds, rows_per_request):
    values = torch.tensor(latencies, dtype=torch.float64)
    n = len(latencies)
    return {"p50_ms": values.mean().item() * 1e3, "p99_ms": torch.quantile(values, 0.99).item() * 1e3,
            "requests_per_s": n / wall_seconds, "rows_per_s": n * rows_per_request / wall_seconds}
''',
        "nearest_rank: nearest rank instead of interpolation": '''
def torch_latency_summary(latencies, wall_seconds, rows_per_request):
    values = torch.tensor(latencies, dtype=torch.float64)
    n = len(latencies)
    p50, p99 = torch.quantile(values, torch.tensor([0.5, 0.99], dtype=torch.float64), interpolation="nearest").tolist()
    return {"p50_ms": p50 * 1e3, "p99_ms": p99 * 1e3, "requests_per_s": n / wall_seconds, "rows_per_s": n * rows_per_request / wall_seconds}
''',
        "throughput_from_latency: throughput from the mean latency": '''
def torch_latency_summary(latencies, wall_seconds, rows_per_request):
    values = torch.tensor(latencies, dtype=torch.float64)
    p50, p99 = torch.quantile(values, torch.tensor([0.5, 0.99], dtype=torch.float64)).tolist()
    per_second = 1 / values.mean().item()
    return {"p50_ms": p50 * 1e3, "p99_ms": p99 * 1e3, "requests_per_s": per_second, "rows_per_s": per_second * rows_per_request}
''',
        "delegates: calls serving.latency_summary": '''
def torch_latency_summary(latencies, wall_seconds, rows_per_request):
    summary = serving.latency_summary(latencies, wall_seconds, rows_per_request)
    return {key: summary[key] for key in ("p50_ms", "p99_ms", "requests_per_s", "rows_per_s")}
''',
    },
    "tf_latency_summary": {
        "percentile_unsorted: percentiles from the unsorted list": '''
def tf_latency_summary(latencies, wall_seconds, rows_per_request):
    values = tf.constant(latencies, dtype=tf.float64)
    n = len(latencies)

    def percentile(q):
        position = q * (n - 1)
        low = int(position)
        high = min(low + 1, n - 1)
        return float(values[low] + (values[high] - values[low]) * (position - low))

    return {"p50_ms": percentile(0.5) * 1e3, "p99_ms": percentile(0.99) * 1e3, "requests_per_s": n / wall_seconds, "rows_per_s": n * rows_per_request / wall_seconds}
''',
        "mean_not_percentile: p50 and p99 from the mean and the maximum": '''
def tf_latency_summary(latencies, wall_seconds, rows_per_request):
    values = tf.constant(latencies, dtype=tf.float64)
    n = len(latencies)
    return {"p50_ms": float(tf.reduce_mean(values)) * 1e3, "p99_ms": float(tf.reduce_max(values)) * 1e3,
            "requests_per_s": n / wall_seconds, "rows_per_s": n * rows_per_request / wall_seconds}
''',
        "nearest_rank: nearest rank instead of interpolation": '''
def tf_latency_summary(latencies, wall_seconds, rows_per_request):
    ordered = tf.sort(tf.constant(latencies, dtype=tf.float64))
    n = len(latencies)

    def percentile(q):
        return float(ordered[int(round(q * (n - 1)))])

    return {"p50_ms": percentile(0.5) * 1e3, "p99_ms": percentile(0.99) * 1e3, "requests_per_s": n / wall_seconds, "rows_per_s": n * rows_per_request / wall_seconds}
''',
        "seconds_not_ms: seconds, not milliseconds": '''
def tf_latency_summary(latencies, wall_seconds, rows_per_request):
    ordered = tf.sort(tf.constant(latencies, dtype=tf.float64))
    n = len(latencies)

    def percentile(q):
        position = q * (n - 1)
        low = int(position)
        high = min(low + 1, n - 1)
        return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))

    return {"p50_ms": percentile(0.5), "p99_ms": percentile(0.99), "requests_per_s": n / wall_seconds, "rows_per_s": n * rows_per_request / wall_seconds}
''',
        "delegates: calls serving.latency_summary through an alias": '''
summarize = serving.latency_summary


def tf_latency_summary(latencies, wall_seconds, rows_per_request):
    summary = summarize(latencies, wall_seconds, rows_per_request)
    return {key: summary[key] for key in ("p50_ms", "p99_ms", "requests_per_s", "rows_per_s")}
''',
    },
}
