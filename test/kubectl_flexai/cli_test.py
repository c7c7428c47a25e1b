"""The kubectl-flexai binary end to end, against flexai-fake-apiserver: what a user types
(`kubectl flexai nodes|pods|explain`), exit codes and error messages.

Needs FLEXAI_KUBECTL_FLEXAI and FLEXAI_FAKE_APISERVER (binary paths; CTest sets them) and, for the
plugin test, KUBECTL (a real kubectl, when the machine has one).
"""

import json
import os
import subprocess
import tempfile
import threading
import time
import unittest

PLUGIN = os.path.abspath(os.environ["FLEXAI_KUBECTL_FLEXAI"]) if os.environ.get(
    "FLEXAI_KUBECTL_FLEXAI") else ""
FAKE = os.environ.get("FLEXAI_FAKE_APISERVER", "")
KUBECTL = os.environ.get("KUBECTL", "")


def chip(i):
    return {"index": i, "uuid": f"GPU-{i}", "model": "H100", "memoryMiB": 81559, "numa": 0,
            "linkGroup": 0, "health": "Healthy", "vendor": "nvidia"}


def pod(name, limits, assignment=None, phase="Pending"):
    obj = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": "team", "annotations": {}},
           "spec": {"schedulerName": "flexai-scheduler",
                    "containers": [{"name": "main", "image": "busybox",
                                    "resources": {"limits": limits}}]},
           "status": {"phase": phase}}
    if assignment:
        obj["metadata"]["annotations"]["flexai.io/assignment"] = assignment
        obj["metadata"]["annotations"]["flexai.io/bind-phase"] = "success"
        obj["spec"]["nodeName"] = "gpu-1"
    return obj


STATE = {"apiVersion": "v1", "kind": "List", "items": [
    {"apiVersion": "v1", "kind": "Node",
     "metadata": {"name": "gpu-1", "annotations": {
         "flexai.io/inventory": json.dumps({"version": 1, "chips": [chip(0), chip(1)]}),
         "flexai.io/heartbeat": "HEARTBEAT"}}},
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "cpu-1"}},
    pod("quarter", {"flexai.io/gpu": "1", "flexai.io/gpu-cores": "25"},
        "node=gpu-1;cpu=0;mem=0|main=GPU-1:20389:25", "Running"),
    pod("waiting", {"flexai.io/gpu": "4"}),
    {"apiVersion": "v1", "kind": "ConfigMap",
     "metadata": {"name": "flexai-policy", "namespace": "flexai-system"},
     "data": {"policy.yaml": "apiVersion: flexai.io/v1\nkind: SlicePolicy\n"}},
]}


@unittest.skipUnless(PLUGIN and FAKE, "set FLEXAI_KUBECTL_FLEXAI and FLEXAI_FAKE_APISERVER")
class KubectlFlexaiCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        text = json.dumps(STATE).replace(
            "HEARTBEAT", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        state = os.path.join(cls.tmp.name, "state.json")
        with open(state, "w") as f:
            f.write(text)
        cls.fake = subprocess.Popen([FAKE, "--listen", "127.0.0.1:0", "--state", state],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = cls.fake.stdout.readline().strip()
        if not line.startswith("listening on "):
            cls.fake.kill()
            raise AssertionError(f"fake apiserver did not start: {line}")
        threading.Thread(target=lambda: cls.fake.stdout.read(), daemon=True).start()
        cls.url = line[len("listening on "):]
        cls.kubeconfig = os.path.join(cls.tmp.name, "config")
        with open(cls.kubeconfig, "w") as f:
            f.write(f"""apiVersion: v1
kind: Config
clusters: [{{name: fake, cluster: {{server: "{cls.url}"}}}}]
users: [{{name: me, user: {{}}}}]
contexts: [{{name: fake, context: {{cluster: fake, user: me, namespace: team}}}}]
current-context: fake
""")

    @classmethod
    def tearDownClass(cls):
        cls.fake.terminate()
        try:
            cls.fake.wait(timeout=3)
        except subprocess.TimeoutExpired:  # do not let a slow shutdown hold the suite
            cls.fake.kill()
            cls.fake.wait()
        cls.tmp.cleanup()

    def run_plugin(self, *args, env_extra=None, command=None):
        env = dict(os.environ, **(env_extra or {}))
        env.pop("KUBECONFIG", None) if not env_extra else None
        return subprocess.run(command or [PLUGIN, *args], capture_output=True, text=True,
                              env=env, timeout=30)

    def test_nodes_draws_the_chips_with_their_owner_pods(self):
        done = self.run_plugin("--server", self.url, "--width", "20", "nodes")
        self.assertEqual(done.returncode, 0, done.stderr)
        out = done.stdout
        self.assertIn("NODE gpu-1  2 chips  heartbeat ", out)
        self.assertIn("#1 H100 GPU-1\n     mem   [AAAAA...............] 20389/81559 MiB", out)
        self.assertIn("cores [AAAAA...............] 25/100%  1 slice", out)
        self.assertIn("  A team/quarter (main)", out)
        self.assertNotIn("cpu-1", out, "nodes without chips are left out")

    def test_pods_lists_grants_and_waiting_pods_of_the_namespace(self):
        done = self.run_plugin("--server", self.url, "-n", "team", "pods")
        self.assertEqual(done.returncode, 0, done.stderr)
        lines = done.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["NAMESPACE", "POD", "NODE", "PHASE", "BIND",
                                            "CONTAINER", "CHIP", "MEMORY", "CORES"])
        rows = {line.split()[1]: line for line in lines[1:]}
        self.assertEqual(rows["quarter"].split(), ["team", "quarter", "gpu-1", "Running",
                                                   "success", "main", "#1", "GPU-1", "20389Mi",
                                                   "25%"])
        self.assertIn("(not assigned yet)", rows["waiting"])

    def test_explain_says_why_a_pending_pod_waits(self):
        done = self.run_plugin("--server", self.url, "-n", "team", "explain", "waiting")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("asks  main: 4 chips (nvidia), whole", done.stdout)
        self.assertIn("no    gpu-1: ", done.stdout)
        self.assertIn("no    cpu-1: ", done.stdout)
        self.assertIn("=> it fits no node now", done.stdout)

    def test_kubeconfig_from_the_environment_and_its_namespace(self):
        done = self.run_plugin("pods", env_extra={"KUBECONFIG": self.kubeconfig})
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("quarter", done.stdout)
        done = self.run_plugin("--kubeconfig", self.kubeconfig, "explain", "quarter")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("already assigned to node gpu-1", done.stdout)

    def test_errors_are_clear_and_exit_non_zero(self):
        done = self.run_plugin("--server", self.url, "-n", "team", "explain", "nope")
        self.assertEqual(done.returncode, 1)
        self.assertIn("error: pod team/nope not found", done.stderr)
        done = self.run_plugin("--server", "http://127.0.0.1:1", "nodes")
        self.assertEqual(done.returncode, 1)
        self.assertIn("error: ", done.stderr)
        done = self.run_plugin("--kubeconfig", "/nonexistent/config", "nodes")
        self.assertEqual(done.returncode, 1)
        self.assertIn("/nonexistent/config", done.stderr)
        done = self.run_plugin("frobnicate")
        self.assertNotEqual(done.returncode, 0)

    @unittest.skipUnless(KUBECTL, "no kubectl on this machine")
    def test_an_example_applied_with_kubectl_waits_and_explain_says_where_it_fits(self):
        example = os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "examples",
                               "quarter-gpu-pod.yaml")
        env = {"KUBECONFIG": self.kubeconfig, "HOME": self.tmp.name}
        done = self.run_plugin(env_extra=env, command=[KUBECTL, "apply", "--validate=false",
                                                       "-n", "team", "-f", example])
        self.assertEqual(done.returncode, 0, done.stderr)
        done = self.run_plugin("pods", env_extra=env)
        self.assertEqual(done.returncode, 0, done.stderr)
        row = [line for line in done.stdout.splitlines() if "quarter-gpu" in line]
        self.assertEqual(len(row), 1, done.stdout)
        self.assertIn("(not assigned yet)", row[0])
        done = self.run_plugin("explain", "quarter-gpu", env_extra=env)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("asks  cuda: 1 chip (nvidia), each 25% of memory and 25% compute",
                      done.stdout)
        self.assertIn("fits  gpu-1", done.stdout)
        self.assertNotIn("[info]", done.stdout, "log lines must not mix into the output")

    @unittest.skipUnless(KUBECTL, "no kubectl on this machine")
    def test_kubectl_finds_and_runs_the_plugin(self):
        with tempfile.TemporaryDirectory() as bin_dir:
            os.symlink(PLUGIN, os.path.join(bin_dir, "kubectl-flexai"))
            env = {"PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
                   "KUBECONFIG": self.kubeconfig, "HOME": bin_dir}
            done = self.run_plugin(env_extra=env, command=[KUBECTL, "flexai", "pods"])
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("quarter", done.stdout)


if __name__ == "__main__":
    unittest.main()
