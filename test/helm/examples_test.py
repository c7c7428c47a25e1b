"""Checks deploy/examples/ (what users apply first) and the Grafana dashboard.

Examples: each manifest parses, asks for flexai resources the way the slice policy accepts, and
leaves schedulerName to the webhook. Dashboard: valid Grafana JSON whose queries use the metrics
flexai really exports.
"""

import glob
import json
import os
import re
import unittest

from render import REPO, load, load_all

EXAMPLES = os.path.join(REPO, "deploy", "examples")
DASHBOARD = os.path.join(REPO, "deploy", "grafana", "flexai-dashboard.json")
VALUES = os.path.join(REPO, "deploy", "helm", "flexai", "values.yaml")

KINDS = {"gpu": ["flexai.io/gpu", "flexai.io/gpu-memory", "flexai.io/gpu-memory-percentage",
                 "flexai.io/gpu-cores"],
         "npu": ["flexai.io/npu", "flexai.io/npu-memory", "flexai.io/npu-memory-percentage",
                 "flexai.io/npu-cores"]}


def example(name):
    with open(os.path.join(EXAMPLES, name)) as f:
        return load_all(f.read())


def pod_specs(obj):
    """The pod spec of a Pod, or of a workload's pod template."""
    if obj["kind"] == "Pod":
        return [(obj["metadata"], obj["spec"])]
    if obj["kind"] in ("Job", "Deployment", "StatefulSet", "DaemonSet"):
        template = obj["spec"]["template"]
        return [(template["metadata"], template["spec"])]
    return []


def flexai_limits(container):
    limits = container.get("resources", {}).get("limits", {})
    return {k: v for k, v in limits.items() if k.startswith("flexai.io/")}


def check_container_request(test, container):
    """The rules of the slice policy's SliceRequestFromResources, for one container."""
    asked = flexai_limits(container)
    kinds = [kind for kind, names in KINDS.items() if any(n in asked for n in names)]
    test.assertEqual(len(kinds), 1, f"{container['name']}: gpu and npu names together or none")
    count, memory, percentage, cores = KINDS[kinds[0]]
    test.assertLessEqual(set(asked), set(KINDS[kinds[0]]), "unknown flexai resource")
    for name, value in asked.items():
        test.assertIsInstance(value, int, f"{name} must be a plain integer quantity")
        test.assertGreater(value, 0, name)
    test.assertIn(count, asked, "slice amounts need the chip count")
    test.assertFalse(memory in asked and percentage in asked, "both memory forms")
    for name in (percentage, cores):
        test.assertLessEqual(asked.get(name, 0), 100, name)
    return kinds[0], asked


class ExamplesTest(unittest.TestCase):
    def test_the_five_examples_are_there(self):
        names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(EXAMPLES, "*.yaml")))
        self.assertEqual(names, ["ascend-vnpu-pod.yaml", "policy-configmap.yaml",
                                 "quarter-gpu-pod.yaml", "shared-chip-pods.yaml",
                                 "topology-job.yaml"])

    def test_every_workload_asks_validly_and_leaves_scheduler_name_to_the_webhook(self):
        for path in glob.glob(os.path.join(EXAMPLES, "*.yaml")):
            with open(path) as f:
                objects = load_all(f.read())
            for obj in objects:
                for metadata, spec in pod_specs(obj):
                    with self.subTest(example=os.path.basename(path), name=metadata.get("name")):
                        self.assertNotIn("schedulerName", spec)
                        for container in spec["containers"]:
                            check_container_request(self, container)
                        for key in (metadata.get("annotations") or {}):
                            self.assertTrue(key.startswith("flexai.io/"), key)

    def test_quarter_gpu_takes_a_quarter_of_memory_and_compute(self):
        (pod,) = example("quarter-gpu-pod.yaml")
        kind, asked = check_container_request(self, pod["spec"]["containers"][0])
        self.assertEqual(kind, "gpu")
        self.assertEqual(asked, {"flexai.io/gpu": 1, "flexai.io/gpu-memory-percentage": 25,
                                 "flexai.io/gpu-cores": 25})

    def test_two_shared_pods_fit_one_chip_together(self):
        pods = example("shared-chip-pods.yaml")
        self.assertEqual(len(pods), 2)
        cores = memory = 0
        for pod in pods:
            _, asked = check_container_request(self, pod["spec"]["containers"][0])
            self.assertEqual(asked["flexai.io/gpu"], 1)
            cores += asked["flexai.io/gpu-cores"]
            memory += asked["flexai.io/gpu-memory"]
            self.assertEqual(pod["metadata"]["annotations"]["flexai.io/chip-policy"], "binpack")
        self.assertLessEqual(cores, 100)
        self.assertLessEqual(memory, 81559 - 512, "must fit one H100 next to the reserve")

    def test_topology_job_takes_four_whole_chips(self):
        (job,) = example("topology-job.yaml")
        self.assertEqual(job["kind"], "Job")
        _, spec = pod_specs(job)[0]
        _, asked = check_container_request(self, spec["containers"][0])
        self.assertEqual(asked, {"flexai.io/gpu": 4})

    def test_ascend_pod_asks_for_a_vnpu(self):
        (pod,) = example("ascend-vnpu-pod.yaml")
        kind, asked = check_container_request(self, pod["spec"]["containers"][0])
        self.assertEqual(kind, "npu")
        self.assertEqual(asked["flexai.io/npu"], 1)

    def test_policy_configmap_replaces_the_charts_policy_with_the_same_names(self):
        (cm,) = example("policy-configmap.yaml")
        self.assertEqual((cm["kind"], cm["metadata"]["name"], cm["metadata"]["namespace"]),
                         ("ConfigMap", "flexai-policy", "flexai-system"))
        policy = load(cm["data"]["policy.yaml"])
        self.assertEqual((policy["apiVersion"], policy["kind"]), ("flexai.io/v1", "SlicePolicy"))
        with open(VALUES) as f:
            chart_policy = load(f.read())["policy"]
        self.assertEqual(policy["resources"], chart_policy["resources"])


def exported_metric_names():
    names = set()
    for path in glob.glob(os.path.join(REPO, "src", "**", "*.cc"), recursive=True):
        with open(path, errors="replace") as f:
            names |= set(re.findall(r'"(flexai_[a-z0-9_]+)"', f.read()))
    return names


class DashboardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(DASHBOARD) as f:
            cls.dash = json.load(f)
        cls.panels = cls.dash["panels"]

    def test_dashboard_is_importable_grafana_json(self):
        self.assertEqual(self.dash["uid"], "flexai-slices")
        self.assertIn("flexai", self.dash["title"])
        ids = [p["id"] for p in self.panels]
        self.assertEqual(len(ids), len(set(ids)), "panel ids must be unique")
        variables = {v["name"] for v in self.dash["templating"]["list"]}
        self.assertEqual(variables, {"datasource", "node"})
        for panel in self.panels:
            for key in ("x", "y", "w", "h"):
                self.assertIn(key, panel["gridPos"], panel["title"])
            self.assertLessEqual(panel["gridPos"]["x"] + panel["gridPos"]["w"], 24, panel["title"])

    def test_panels_cover_chips_slices_memory_cores_and_pending_pods(self):
        titles = " | ".join(p["title"].lower() for p in self.panels)
        for word in ("chips", "slices", "memory", "compute", "cores", "pending"):
            self.assertIn(word, titles)
        exprs = [t["expr"] for p in self.panels for t in p.get("targets", [])]
        self.assertTrue(any("allocated" in e for e in exprs))
        self.assertTrue(any("_used_" in e for e in exprs), "allocated vs used")
        self.assertTrue(any('kube_pod_status_phase{phase="Pending"}' in e for e in exprs))

    def test_queries_use_metrics_flexai_exports(self):
        exported = exported_metric_names()
        self.assertTrue(exported, "found no flexai_* metric in src/")
        used = set()
        for panel in self.panels:
            for target in panel.get("targets", []):
                self.assertEqual(target["expr"].count("("), target["expr"].count(")"))
                # Label values in quotes (kube-state-metrics' resource="flexai_io_...") are not
                # metric names.
                bare = re.sub(r'"[^"]*"', '""', target["expr"])
                used |= set(re.findall(r"\bflexai_[a-z0-9_]+", bare))
        self.assertEqual(used - exported, set(), "queried but exported nowhere in src/")
        self.assertIn("flexai_chip_memory_used_mib", used)
        self.assertIn("flexai_chip_compute_used_percent", used)


if __name__ == "__main__":
    unittest.main()
