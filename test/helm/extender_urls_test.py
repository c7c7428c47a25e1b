"""Runs the real hi-scheduler with the flags the chart renders and calls it exactly as the rendered
configuration says: kube-scheduler's extender URLs (urlPrefix + "/" + verb, over TLS checked with
tlsConfig.caFile and tlsConfig.serverName) and the API server's webhook call (the Service name,
path and caBundle of the MutatingWebhookConfiguration). A fake API server stands in for the
cluster.

Needs FLEXAI_HI_SCHEDULER and FLEXAI_FAKE_APISERVER (binary paths; CTest sets them).
"""

import base64
import http.client
import json
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

import render
from render import NAMESPACE, load

HI_SCHEDULER = os.environ.get("FLEXAI_HI_SCHEDULER", "")
FAKE_APISERVER = os.environ.get("FLEXAI_FAKE_APISERVER", "")
# The scheduler pod this hi-scheduler plays the sidecar of (its POD_NAME).
POD_NAME = "flexai-scheduler-5c8d7b9f4-x2k7q"

NODE = {
    "apiVersion": "v1", "kind": "Node",
    "metadata": {"name": "gpu-1", "labels": {"flexai.io/enabled": "true"}, "annotations": {}},
    "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110",
                               "flexai.io/gpu": "80"},
               "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110",
                            "flexai.io/gpu": "80"}},
}


def inventory():
    chips = [{"index": i, "uuid": f"GPU-{i}", "model": "H100", "memoryMiB": 81559, "numa": i // 4,
              "linkGroup": i // 4, "health": "Healthy", "vendor": "nvidia"} for i in range(8)]
    return json.dumps({"version": 1, "chips": chips})


def pod(name, limits, scheduler="flexai-scheduler"):
    spec = {"containers": [{"name": "main", "image": "busybox",
                            "resources": {"limits": limits, "requests": limits}}]}
    if scheduler:
        spec["schedulerName"] = scheduler
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "team", "uid": f"uid-{name}"},
            "spec": spec, "status": {"phase": "Pending"}}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VerifiedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an address, verifying the certificate for another name (like tlsConfig.serverName
    or a webhook Service's DNS name)."""

    def __init__(self, host, port, server_name, ca_pem, timeout=10):
        context = ssl.create_default_context(cadata=ca_pem)
        super().__init__(host, port, context=context, timeout=timeout)
        self._server_name = server_name
        self._ctx = context

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self._server_name)


def call(url, body, server_name, ca_pem, method="POST"):
    """Sends `body` (JSON) to an https URL; returns (status, parsed JSON or text)."""
    assert url.startswith("https://"), url
    hostport, _, path = url[len("https://"):].partition("/")
    host, port = hostport.rsplit(":", 1)
    conn = VerifiedHTTPSConnection(host, int(port), server_name, ca_pem)
    try:
        data = None if body is None else json.dumps(body)
        conn.request(method, "/" + path, body=data, headers={"Content-Type": "application/json"})
        reply = conn.getresponse()
        text = reply.read().decode()
    finally:
        conn.close()
    try:
        return reply.status, json.loads(text)
    except ValueError:
        return reply.status, text


def extender_url(extender, verb_field):
    """The URL kube-scheduler calls: strings.TrimRight(urlPrefix, "/") + "/" + verb."""
    return extender["urlPrefix"].rstrip("/") + "/" + extender[verb_field]


@unittest.skipUnless(HI_SCHEDULER and FAKE_APISERVER, "set FLEXAI_HI_SCHEDULER and "
                     "FLEXAI_FAKE_APISERVER (ctest does)")
class ExtenderUrlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.procs = []
        listen_port, webhook_port = free_port(), free_port()
        cls.r = render.template({"scheduler.hiScheduler.listen": f"127.0.0.1:{listen_port}",
                                 "scheduler.hiScheduler.webhookPort": webhook_port,
                                 })
        cls.extender = cls.r.extender()
        secret = cls.r.get("Secret", "flexai-webhook-tls")["data"]
        files = {name: base64.b64decode(secret[name]).decode()
                 for name in ("ca.crt", "tls.crt", "tls.key")}
        files["policy.yaml"] = cls.r.get("ConfigMap", "flexai-policy")["data"]["policy.yaml"]
        cls.ca_pem = files["ca.crt"]
        for name, text in files.items():
            with open(cls.path(name), "w") as f:
                f.write(text)

        node = json.loads(json.dumps(NODE))
        node["metadata"]["annotations"] = {
            "flexai.io/inventory": inventory(),
            "flexai.io/heartbeat": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        # hi-scheduler follows kube-scheduler's Lease: let the kube-scheduler of "its" pod hold it.
        election = cls.r.scheduler_config()["leaderElection"]
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": election["resourceName"],
                              "namespace": election["resourceNamespace"]},
                 "spec": {"holderIdentity": POD_NAME + "_0f3c9a2e", "leaseDurationSeconds": 15}}
        state = {"apiVersion": "v1", "kind": "List",
                 "items": [node, lease, pod("quarter", {"flexai.io/gpu": "1",
                                                        "flexai.io/gpu-cores": "25"})]}
        with open(cls.path("state.json"), "w") as f:
            json.dump(state, f)
        cls.api_url = cls.start_fake()
        with open(cls.path("kubeconfig"), "w") as f:
            f.write(f"""apiVersion: v1
kind: Config
clusters: [{{name: fake, cluster: {{server: "{cls.api_url}"}}}}]
users: [{{name: nobody, user: {{}}}}]
contexts: [{{name: fake, context: {{cluster: fake, user: nobody, namespace: {NAMESPACE}}}}}]
current-context: fake
""")
        cls.hi = cls.start_hi_scheduler()

    @classmethod
    def tearDownClass(cls):
        for proc in cls.procs:
            proc.terminate()
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:  # do not let a slow shutdown hold the suite
                proc.kill()
                proc.wait()
        cls.tmp.cleanup()

    @classmethod
    def path(cls, name):
        return os.path.join(cls.tmp.name, name)

    @classmethod
    def start_fake(cls):
        proc = subprocess.Popen([FAKE_APISERVER, "--listen", "127.0.0.1:0", "--state",
                                 cls.path("state.json")], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        cls.procs.append(proc)
        line = proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            raise AssertionError(f"fake apiserver did not start: {line}")
        # Keep draining its output so a chatty log never blocks it on a full pipe.
        threading.Thread(target=lambda: proc.stdout.read(), daemon=True).start()
        return line[len("listening on "):]

    @classmethod
    def start_hi_scheduler(cls):
        """hi-scheduler with the rendered command; only in-pod paths become temp files, and the
        webhook's 0.0.0.0 becomes loopback (same port)."""
        command = cls.r.container("Deployment", "flexai-scheduler", "hi-scheduler")["command"]
        in_pod = {"/etc/flexai/policy.yaml": cls.path("policy.yaml"),
                  "/tls/tls.crt": cls.path("tls.crt"), "/tls/tls.key": cls.path("tls.key")}
        args = [in_pod.get(a, a.replace("0.0.0.0:", "127.0.0.1:")) for a in command[1:]]
        with open(cls.path("hi-scheduler.log"), "w") as log:
            # The env the chart gives the container (POD_NAME from the downward API).
            env = dict(os.environ, POD_NAME=POD_NAME, POD_NAMESPACE=NAMESPACE)
            proc = subprocess.Popen([HI_SCHEDULER, *args, "--kubeconfig", cls.path("kubeconfig")],
                                    stdout=log, stderr=subprocess.STDOUT, env=env)
        cls.procs.append(proc)
        server_name = cls.extender["tlsConfig"]["serverName"]
        ready_url = cls.extender["urlPrefix"].rstrip("/") + "/readyz"
        deadline = time.time() + 20
        while time.time() < deadline:
            if proc.poll() is not None:
                raise AssertionError("hi-scheduler exited with the chart's flags:\n" +
                                     cls.log())
            try:
                if call(ready_url, None, server_name, cls.ca_pem, method="GET")[0] == 200:
                    return proc
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.2)
        raise AssertionError("hi-scheduler never became ready:\n" + cls.log())

    @classmethod
    def log(cls):
        with open(cls.path("hi-scheduler.log")) as f:
            return f.read()

    def post_verb(self, verb_field, body):
        return call(extender_url(self.extender, verb_field), body,
                    self.extender["tlsConfig"]["serverName"], self.ca_pem)

    def test_filter_url_answers_an_extender_filter_result(self):
        status, result = self.post_verb("filterVerb", {
            "Pod": pod("quarter", {"flexai.io/gpu": "1", "flexai.io/gpu-cores": "25"}),
            "Nodes": None, "NodeNames": ["gpu-1", "no-such-node"]})
        self.assertEqual(status, 200, result)
        self.assertEqual(result["NodeNames"], ["gpu-1"])
        self.assertIn("no-such-node", {**(result.get("FailedNodes") or {}),
                                       **(result.get("FailedAndUnresolvableNodes") or {})})
        self.assertEqual(result.get("Error", ""), "")

    def test_prioritize_url_answers_a_host_priority_list(self):
        status, result = self.post_verb("prioritizeVerb", {
            "Pod": pod("quarter", {"flexai.io/gpu": "1", "flexai.io/gpu-cores": "25"}),
            "Nodes": None, "NodeNames": ["gpu-1"]})
        self.assertEqual(status, 200, result)
        self.assertEqual([h["Host"] for h in result], ["gpu-1"])
        self.assertTrue(0 <= result[0]["Score"] <= 10)

    def api_get(self, path):
        conn = http.client.HTTPConnection(self.api_url[len("http://"):], timeout=10)
        try:
            conn.request("GET", path)
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def test_bind_url_binds_the_pod_once_leader(self):
        uid = self.api_get("/api/v1/namespaces/team/pods/quarter")["metadata"]["uid"]
        body = {"PodName": "quarter", "PodNamespace": "team", "PodUID": uid, "Node": "gpu-1"}
        deadline = time.time() + 20
        while True:
            status, result = self.post_verb("bindVerb", body)
            if status != 503 or time.time() > deadline:  # followers answer 503
                break
            time.sleep(0.3)
        self.assertEqual(status, 200, result)
        self.assertEqual(result.get("Error", ""), "")
        bound = self.api_get("/api/v1/namespaces/team/pods/quarter")
        self.assertEqual(bound["spec"].get("nodeName"), "gpu-1")
        self.assertIn("flexai.io/assignment", bound["metadata"]["annotations"])

    def test_preempt_url_is_served(self):
        status, _ = self.post_verb("preemptVerb", {"Pod": pod("quarter", {"flexai.io/gpu": "1"}),
                                                   "NodeNameToVictims": {},
                                                   "NodeNameToMetaVictims": {}})
        self.assertEqual(status, 200, "the rendered preemptVerb names no served endpoint")

    def test_plain_http_is_refused_where_the_chart_says_https(self):
        host, port = self.extender["urlPrefix"][len("https://"):].rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        try:
            conn.request("GET", "/healthz")
            status = conn.getresponse().status
        except (OSError, http.client.HTTPException):
            status = None
        self.assertNotEqual(status, 200, "the extender answered plain HTTP: urlPrefix is wrong")

    def test_webhook_is_called_as_the_api_server_would(self):
        hook = self.r.get("MutatingWebhookConfiguration", "flexai")["webhooks"][0]
        service = hook["clientConfig"]["service"]
        dns = f"{service['name']}.{service['namespace']}.svc"
        ca_pem = base64.b64decode(hook["clientConfig"]["caBundle"]).decode()
        # The Service's port 443 forwards to the container's webhook port.
        svc = self.r.get("Service", service["name"])
        (port,) = [p for p in svc["spec"]["ports"] if p["port"] == service["port"]]
        container = self.r.container("Deployment", "flexai-scheduler", "hi-scheduler")
        (target,) = [p["containerPort"] for p in container["ports"]
                     if p["name"] == port["targetPort"]]
        review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                  "request": {"uid": "review-1", "operation": "CREATE", "namespace": "team",
                              "kind": {"group": "", "version": "v1", "kind": "Pod"},
                              "resource": {"group": "", "version": "v1", "resource": "pods"},
                              "object": pod("new", {"flexai.io/gpu": "1"}, scheduler=None)}}
        status, result = call(f"https://127.0.0.1:{target}{service['path']}", review, dns, ca_pem)
        self.assertEqual(status, 200, result)
        response = result["response"]
        self.assertEqual(response["uid"], "review-1")
        self.assertIs(response["allowed"], True)
        patch = json.loads(base64.b64decode(response["patch"]))
        self.assertIn({"op": "add", "path": "/spec/schedulerName", "value": "flexai-scheduler"},
                      [{k: p[k] for k in ("op", "path", "value")} for p in patch])


if __name__ == "__main__":
    unittest.main()
