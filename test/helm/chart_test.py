"""Chart tests: lint the flexai chart and check what `helm template` renders, for several value sets.

Run one suite: python3 -m unittest -v chart_test.DefaultRenderTest (ctest runs each suite).
"""

import base64
import json
import os
import re
import subprocess
import tempfile
import unittest

import render
from render import NAMESPACE, load

RESOURCES = ["flexai.io/gpu", "flexai.io/gpu-memory", "flexai.io/gpu-memory-percentage",
             "flexai.io/gpu-cores", "flexai.io/npu", "flexai.io/npu-memory",
             "flexai.io/npu-memory-percentage", "flexai.io/npu-cores"]
COUNTED = {"flexai.io/gpu", "flexai.io/npu"}  # chip counts: kube-scheduler checks them too

# The value sets the issue asks for, beside the defaults.
VALUE_SETS = {
    "defaults": {},
    "cert-manager": {"certManager.enabled": "true"},
    "ascend": {"devicePlugin.backend": "ascend"},
    "service-monitor": {"serviceMonitor.enabled": "true"},
    "no-preempt": {"scheduler.extender.preempt": "false"},
    "sim": {"devicePlugin.backend": "sim"},
    "mps": {"devicePlugin.mps.enabled": "true"},
    "volume-mounts": {"devicePlugin.deviceListStrategy": "volume-mounts"},
}

HI_SCHEDULER_ARGS = [
    "hi-scheduler", "--listen", "127.0.0.1:8888", "--policy", "/etc/flexai/policy.yaml",
    "--follow-lease", "flexai-scheduler", "--lease-namespace", NAMESPACE,
    "--webhook-listen", "0.0.0.0:8443", "--tls-cert", "/tls/tls.crt", "--tls-key",
    "/tls/tls.key", "--scheduler-name", "flexai-scheduler", "--log-level", "info"]


def device_plugin_args(backend, device_list_strategy="envvar"):
    return ["flexai-device-plugin", "--backend", backend, "--device-plugin-dir",
            "/var/lib/kubelet/device-plugins", "--policy", "/etc/flexai/policy.yaml",
            "--metrics-listen", "0.0.0.0:9400", "--log-level", "info",
            "--device-list-strategy", device_list_strategy]


def rules_as_set(rules):
    """RBAC rules as a set of (group, resource, resourceName or '*', verb) for exact comparison."""
    out = set()
    for rule in rules:
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                for name in rule.get("resourceNames", ["*"]):
                    for verb in rule["verbs"]:
                        out.add((group, resource, name, verb))
    return out


def expand(group, resources, verbs, names=("*",)):
    return {(group, r, n, v) for r in resources for n in names for v in verbs}


class LintTest(unittest.TestCase):
    def test_lint_passes_strictly_for_every_value_set(self):
        for label, values in VALUE_SETS.items():
            with self.subTest(values=label):
                done = render.run_helm("lint", "--strict", render.CHART, "--namespace", NAMESPACE,
                                       *render.set_args(values))
                self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
                self.assertIn("0 chart(s) failed", done.stdout)

    def test_every_value_set_renders_without_duplicate_keys(self):
        for label, values in VALUE_SETS.items():
            with self.subTest(values=label):
                objects = render.template(values).objects
                self.assertGreater(len(objects), 10)
                for obj in objects:
                    self.assertIn("apiVersion", obj)
                    self.assertRegex(obj["metadata"]["name"], r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")

    def test_schema_refuses_bad_values_with_a_clear_message(self):
        cases = [
            ("devicePlugin.backend", "cuda"),
            ("devicePlugin.deviceListStrategy", "cdi"),
            ("webhook.failurePolicy", "Maybe"),
            ("scheduler.hiScheduler.listen", "localhost"),
            ("scheduler.extender.httpTimeout", "five"),
            ("policy.apiVersion", "flexai.io/v2"),
            ("scheduler.replicas", "0"),
            ("scheduler.replicas", "6"),
            ("unknownKey", "1"),
        ]
        for key, value in cases:
            with self.subTest(key=key, value=value):
                self.assertIn(key, render.template_error({key: value}))


class DefaultRenderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.r = render.template()

    def test_renders_exactly_the_expected_kinds(self):
        self.assertEqual(self.r.kinds(), sorted([
            "ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet", "Deployment",
            "MutatingWebhookConfiguration", "Pod", "PodDisruptionBudget", "Role", "RoleBinding",
            "Secret", "Service", "ServiceAccount", "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding"]))
        for kind, name in [("Deployment", "flexai-scheduler"),
                           ("DaemonSet", "flexai-device-plugin"),
                           ("ConfigMap", "flexai-policy"),
                           ("ServiceAccount", "flexai-scheduler"),
                           ("ServiceAccount", "flexai-device-plugin"),
                           ("Service", "flexai-webhook"),
                           ("Service", "flexai-device-plugin-metrics")]:
            self.r.get(kind, name)

    def test_namespaced_objects_live_in_the_release_namespace(self):
        cluster_scoped = {"ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration",
                          "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
        for obj in self.r.objects:
            ns = obj["metadata"].get("namespace")
            if obj["kind"] in cluster_scoped:
                self.assertIsNone(ns, obj["metadata"]["name"])
            elif obj["kind"] == "RoleBinding" and obj["roleRef"]["name"].startswith("extension-"):
                self.assertEqual(ns, "kube-system")
            else:
                self.assertEqual(ns, NAMESPACE, f"{obj['kind']}/{obj['metadata']['name']}")

    # --- the KubeSchedulerConfiguration -------------------------------------------------------

    def test_scheduler_configuration_has_the_flexai_profile_and_leader_election(self):
        config = self.r.scheduler_config()
        self.assertEqual(config["apiVersion"], "kubescheduler.config.k8s.io/v1")
        self.assertEqual(config["kind"], "KubeSchedulerConfiguration")
        self.assertEqual([p["schedulerName"] for p in config["profiles"]], ["flexai-scheduler"])
        election = config["leaderElection"]
        self.assertIs(election["leaderElect"], True)
        self.assertEqual(election["resourceLock"], "leases")
        self.assertEqual(election["resourceName"], "flexai-scheduler")
        self.assertEqual(election["resourceNamespace"], NAMESPACE)

    def test_extender_stanza_points_at_the_loopback_sidecar_with_all_verbs(self):
        ext = self.r.extender()
        self.assertEqual(ext["urlPrefix"], "https://127.0.0.1:8888")
        self.assertEqual(ext["filterVerb"], "filter")
        self.assertEqual(ext["prioritizeVerb"], "prioritize")
        self.assertEqual(ext["bindVerb"], "bind")
        self.assertEqual(ext["preemptVerb"], "preempt")
        self.assertIs(ext["nodeCacheCapable"], True)
        # hi-scheduler serves its --tls-cert on --listen too: kube-scheduler verifies it with the
        # webhook CA, by the webhook Service's name (the certificate's subject).
        self.assertIs(ext["enableHTTPS"], True)
        self.assertEqual(ext["tlsConfig"], {"caFile": "/etc/flexai-ca/ca.crt",
                                            "serverName": f"flexai-webhook.{NAMESPACE}.svc"})
        self.assertIs(ext["ignorable"], False)
        self.assertEqual(ext["weight"], 5)
        self.assertEqual(ext["httpTimeout"], "5s")
        known = {"urlPrefix", "filterVerb", "preemptVerb", "prioritizeVerb", "weight", "bindVerb",
                 "enableHTTPS", "tlsConfig", "httpTimeout", "nodeCacheCapable",
                 "managedResources", "ignorable"}
        self.assertLessEqual(set(ext), known, "unknown extender fields")

    def test_extender_manages_every_flexai_resource_and_ignores_memory_and_cores(self):
        managed = {m["name"]: m["ignoredByScheduler"] for m in self.r.extender()["managedResources"]}
        self.assertEqual(sorted(managed), sorted(RESOURCES))
        for name, ignored in managed.items():
            self.assertIs(ignored, name not in COUNTED, name)

    def test_extender_port_matches_hi_scheduler_listen_flag(self):
        args = self.r.container("Deployment", "flexai-scheduler", "hi-scheduler")["command"]
        listen = args[args.index("--listen") + 1]
        self.assertEqual(self.r.extender()["urlPrefix"], "https://" + listen)

    # --- the scheduler Deployment -------------------------------------------------------------

    def test_hi_scheduler_runs_with_exactly_the_documented_flags(self):
        c = self.r.container("Deployment", "flexai-scheduler", "hi-scheduler")
        self.assertEqual(c["command"], HI_SCHEDULER_ARGS)
        self.assertEqual(c["image"], "ghcr.io/flexai/flexai:0.1.0")
        self.assertEqual([p["containerPort"] for p in c["ports"]], [8443])

    def test_kube_scheduler_reads_the_mounted_configuration(self):
        c = self.r.container("Deployment", "flexai-scheduler", "kube-scheduler")
        self.assertTrue(c["image"].startswith("registry.k8s.io/kube-scheduler:v1.31."), c["image"])
        self.assertIn("--config=/etc/kubernetes/flexai-scheduler/scheduler-config.yaml",
                      c["command"])
        mount = [m for m in c["volumeMounts"] if m["name"] == "scheduler-config"][0]
        self.assertEqual(mount["mountPath"], "/etc/kubernetes/flexai-scheduler")
        volume = [v for v in self.r.pod_spec("Deployment", "flexai-scheduler")["volumes"]
                  if v["name"] == "scheduler-config"][0]
        self.assertEqual(volume["configMap"]["name"], "flexai-scheduler-config")

    def test_kube_scheduler_gets_only_the_ca_to_verify_hi_scheduler(self):
        kube = self.r.container("Deployment", "flexai-scheduler", "kube-scheduler")
        mount = [m for m in kube["volumeMounts"] if m["name"] == "webhook-ca"][0]
        self.assertEqual(mount["mountPath"], "/etc/flexai-ca")
        volume = [v for v in self.r.pod_spec("Deployment", "flexai-scheduler")["volumes"]
                  if v["name"] == "webhook-ca"][0]
        self.assertEqual(volume["secret"], {"secretName": "flexai-webhook-tls",
                                            "items": [{"key": "ca.crt", "path": "ca.crt"}]})

    def test_plain_http_extender_when_tls_is_off(self):
        r = render.template({"scheduler.hiScheduler.listenTLS": "false"})
        ext = r.extender()
        self.assertEqual(ext["urlPrefix"], "http://127.0.0.1:8888")
        self.assertIs(ext["enableHTTPS"], False)
        self.assertNotIn("tlsConfig", ext)
        kube = r.container("Deployment", "flexai-scheduler", "kube-scheduler")
        self.assertNotIn("webhook-ca", [m["name"] for m in kube["volumeMounts"]])

    def test_probes_reach_what_each_container_serves(self):
        kube = self.r.container("Deployment", "flexai-scheduler", "kube-scheduler")
        for probe in ("livenessProbe", "readinessProbe"):
            get = kube[probe]["httpGet"]
            self.assertEqual((get["path"], get["port"], get["scheme"]),
                             ("/healthz", 10259, "HTTPS"))
        hi = self.r.container("Deployment", "flexai-scheduler", "hi-scheduler")
        self.assertEqual(hi["livenessProbe"]["exec"]["command"][-1],
                         "https://127.0.0.1:8888/healthz")
        self.assertEqual(hi["readinessProbe"]["exec"]["command"][-1],
                         "https://127.0.0.1:8888/readyz")
        self.assertEqual(hi["livenessProbe"]["exec"]["command"][0], "curl")
        dp = self.r.container("DaemonSet", "flexai-device-plugin", "device-plugin")
        self.assertEqual(dp["livenessProbe"]["httpGet"], {"path": "/metrics", "port": "metrics"})

    def test_scheduler_pods_are_unprivileged_and_spread(self):
        spec = self.r.pod_spec("Deployment", "flexai-scheduler")
        self.assertIs(spec["securityContext"]["runAsNonRoot"], True)
        self.assertEqual(spec["serviceAccountName"], "flexai-scheduler")
        for c in spec["containers"]:
            sc = c["securityContext"]
            self.assertIs(sc["allowPrivilegeEscalation"], False, c["name"])
            self.assertIs(sc["readOnlyRootFilesystem"], True, c["name"])
            self.assertEqual(sc["capabilities"]["drop"], ["ALL"], c["name"])
            self.assertIn("limits", c["resources"], c["name"])
        deployment = self.r.get("Deployment", "flexai-scheduler")["spec"]
        # Two replicas: hi-scheduler follows kube-scheduler's Lease, so one pod leads both.
        self.assertEqual(deployment["replicas"], 2)
        self.assertEqual(deployment["strategy"]["rollingUpdate"], {"maxSurge": 1,
                                                                   "maxUnavailable": 0})
        anti = spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
        self.assertEqual(anti[0]["podAffinityTerm"]["topologyKey"], "kubernetes.io/hostname")

    def test_disruption_budget_keeps_a_scheduler_replica(self):
        pdb = self.r.get("PodDisruptionBudget", "flexai-scheduler")
        self.assertEqual(pdb["spec"]["maxUnavailable"], 1)
        pod_labels = self.r.get("Deployment", "flexai-scheduler")["spec"]["template"]["metadata"][
            "labels"]
        self.assertLessEqual(pdb["spec"]["selector"]["matchLabels"].items(), pod_labels.items())

    # --- the policy ---------------------------------------------------------------------------

    def test_policy_configmap_holds_a_slice_policy(self):
        policy = load(self.r.get("ConfigMap", "flexai-policy")["data"]["policy.yaml"])
        self.assertEqual(policy["apiVersion"], "flexai.io/v1")
        self.assertEqual(policy["kind"], "SlicePolicy")

    def test_policy_is_mounted_as_a_folder_so_updates_reach_running_daemons(self):
        for kind, name, container in [("Deployment", "flexai-scheduler", "hi-scheduler"),
                                      ("DaemonSet", "flexai-device-plugin", "device-plugin")]:
            with self.subTest(kind=kind):
                mount = [m for m in self.r.container(kind, name, container)["volumeMounts"]
                         if m["name"] == "policy"][0]
                self.assertEqual(mount["mountPath"], "/etc/flexai")
                self.assertNotIn("subPath", mount)
                volume = [v for v in self.r.pod_spec(kind, name)["volumes"]
                          if v["name"] == "policy"][0]
                self.assertEqual(volume["configMap"]["name"], "flexai-policy")
                annotations = self.r.get(kind, name)["spec"]["template"]["metadata"].get(
                    "annotations") or {}
                self.assertFalse([a for a in annotations if "policy" in a],
                                 "a policy checksum would restart pods on every policy edit")

    # --- the device plugin DaemonSet ----------------------------------------------------------

    def test_device_plugin_runs_with_exactly_the_documented_flags(self):
        c = self.r.container("DaemonSet", "flexai-device-plugin", "device-plugin")
        self.assertEqual(c["command"], device_plugin_args("nvidia"))
        node_name = [e for e in c["env"] if e["name"] == "NODE_NAME"][0]
        self.assertEqual(node_name["valueFrom"]["fieldRef"]["fieldPath"], "spec.nodeName")

    def test_device_list_strategy_reaches_the_device_plugin(self):
        r = render.template({"devicePlugin.deviceListStrategy": "volume-mounts"})
        c = r.container("DaemonSet", "flexai-device-plugin", "device-plugin")
        self.assertEqual(c["command"], device_plugin_args("nvidia", "volume-mounts"))
        # The plugin asks for its own GPUs the way the toolkit then accepts: /dev/null at .../all.
        mounts = {m["name"]: m for m in c["volumeMounts"]}
        self.assertEqual(mounts["all-gpus"]["mountPath"], "/var/run/nvidia-container-devices/all")
        volumes = {v["name"]: v for v in r.pod_spec("DaemonSet", "flexai-device-plugin")["volumes"]}
        self.assertEqual(volumes["all-gpus"]["hostPath"]["path"], "/dev/null")
        default = self.r.container("DaemonSet", "flexai-device-plugin", "device-plugin")
        self.assertNotIn("all-gpus", {m["name"] for m in default["volumeMounts"]})

    def test_device_plugin_is_node_critical_and_least_privileged(self):
        spec = self.r.pod_spec("DaemonSet", "flexai-device-plugin")
        self.assertEqual(spec["priorityClassName"], "system-node-critical")
        self.assertEqual(spec["nodeSelector"], {"flexai.io/enabled": "true"})
        self.assertIn("nvidia.com/gpu", [t["key"] for t in spec["tolerations"]])
        for key in ("hostNetwork", "hostIPC", "hostPID"):
            self.assertNotIn(key, spec)
        sc = spec["containers"][0]["securityContext"]
        self.assertNotIn("privileged", sc)
        self.assertIs(sc["allowPrivilegeEscalation"], False)
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        host_paths = {v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
        # Exactly the kubelet folder and the paths Allocate hands to containers
        # (src/device_plugin/plugin_settings.h).
        self.assertEqual(host_paths, {"/var/lib/kubelet/device-plugins", "/usr/local/flexai/lib",
                                      "/var/lib/flexai/shared", "/var/run/flexai/mps"})
        mounts = {m["name"]: m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
        self.assertNotIn("hook-dir", mounts, "only the init container writes the hook library")
        self.assertEqual(mounts["shared-dir"], "/var/lib/flexai/shared")
        self.assertEqual(mounts["mps-pipe-dir"], "/var/run/flexai/mps")

    def test_init_container_installs_the_hook_library_atomically_without_privilege(self):
        (init,) = self.r.pod_spec("DaemonSet", "flexai-device-plugin")["initContainers"]
        self.assertEqual(init["image"], "ghcr.io/flexai/flexai:0.1.0")
        script = init["command"][-1]
        self.assertIn("cp /opt/flexai/lib/libflexai-cuda.so /host/usr/local/flexai/lib/.", script)
        self.assertRegex(script, r"mv -f \S+ /host/usr/local/flexai/lib/libflexai-cuda\.so$")
        self.assertEqual(init["volumeMounts"], [{"name": "hook-dir",
                                                 "mountPath": "/host/usr/local/flexai/lib"}])
        sc = init["securityContext"]
        self.assertIs(sc["allowPrivilegeEscalation"], False)
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        self.assertNotIn("privileged", sc)

    def test_metrics_service_selects_device_plugin_pods(self):
        svc = self.r.get("Service", "flexai-device-plugin-metrics")
        labels = self.r.get("DaemonSet", "flexai-device-plugin")["spec"]["template"]["metadata"][
            "labels"]
        self.assertLessEqual(svc["spec"]["selector"].items(), labels.items())
        self.assertEqual(svc["spec"]["ports"][0]["port"], 9400)

    # --- RBAC ---------------------------------------------------------------------------------

    def test_no_rule_uses_wildcards(self):
        for obj in self.r.all("ClusterRole") + self.r.all("Role"):
            for rule in obj["rules"]:
                for field in ("apiGroups", "resources", "verbs", "resourceNames"):
                    self.assertNotIn("*", rule.get(field, []), obj["metadata"]["name"])

    def test_hi_scheduler_role_is_exactly_bind_annotate_and_report(self):
        rules = rules_as_set(self.r.get("ClusterRole", "flexai-scheduler-hi-scheduler")["rules"])
        expected = (expand("", ["nodes"], ["get", "list", "watch"]) |
                    expand("", ["pods"], ["get", "list", "watch", "patch"]) |
                    expand("", ["pods/binding"], ["create"]) |
                    expand("", ["events"], ["create", "patch"]) |
                    expand("policy", ["poddisruptionbudgets"], ["get", "list", "watch"]))
        self.assertEqual(rules, expected)

    def test_kube_scheduler_role_is_exactly_what_upstream_kube_scheduler_needs(self):
        rules = rules_as_set(self.r.get("ClusterRole", "flexai-scheduler-kube-scheduler")["rules"])
        read = ["get", "list", "watch"]
        expected = (expand("", ["events"], ["create", "patch", "update"]) |
                    expand("events.k8s.io", ["events"], ["create", "patch", "update"]) |
                    expand("", ["nodes", "namespaces", "replicationcontrollers", "services"], read) |
                    expand("", ["pods"], read + ["delete"]) |
                    expand("", ["bindings", "pods/binding"], ["create"]) |
                    expand("", ["pods/status"], ["patch", "update"]) |
                    expand("", ["persistentvolumeclaims", "persistentvolumes"],
                           read + ["patch", "update"]) |
                    expand("apps", ["replicasets", "statefulsets"], read) |
                    expand("policy", ["poddisruptionbudgets"], read) |
                    expand("storage.k8s.io", ["csidrivers", "csinodes", "csistoragecapacities",
                                              "storageclasses"], read) |
                    expand("authentication.k8s.io", ["tokenreviews"], ["create"]) |
                    expand("authorization.k8s.io", ["subjectaccessreviews"], ["create"]))
        self.assertEqual(rules, expected)
        for _, resource, _, verb in rules:
            self.assertFalse(resource in ("secrets", "configmaps"), "no secret or config access")

    def test_leases_are_granted_by_name_in_the_release_namespace(self):
        role = self.r.get("Role", "flexai-scheduler-leases")
        self.assertEqual(rules_as_set(role["rules"]),
                         expand("coordination.k8s.io", ["leases"], ["create"]) |
                         expand("coordination.k8s.io", ["leases"], ["get", "update"],
                                ["flexai-scheduler"]))
        # hi-scheduler follows the Lease kube-scheduler elects with, in the same namespace.
        election = self.r.scheduler_config()["leaderElection"]
        args = self.r.container("Deployment", "flexai-scheduler", "hi-scheduler")["command"]
        self.assertEqual(args[args.index("--follow-lease") + 1], election["resourceName"])
        self.assertEqual(args[args.index("--lease-namespace") + 1], election["resourceNamespace"])

    def test_device_plugin_role_is_exactly_inventory_pods_and_events(self):
        rules = rules_as_set(self.r.get("ClusterRole", "flexai-device-plugin")["rules"])
        self.assertEqual(rules, expand("", ["nodes"], ["get", "patch"]) |
                         expand("", ["pods"], ["get", "list", "watch", "patch"]) |
                         expand("", ["events"], ["create", "patch"]))

    def test_every_role_is_bound_to_its_component_service_account(self):
        bindings = self.r.all("ClusterRoleBinding") + self.r.all("RoleBinding")
        bound = {(b["roleRef"]["name"], b["subjects"][0]["name"]) for b in bindings}
        self.assertEqual(bound, {
            ("flexai-scheduler-kube-scheduler", "flexai-scheduler"),
            ("flexai-scheduler-hi-scheduler", "flexai-scheduler"),
            ("flexai-scheduler-leases", "flexai-scheduler"),
            ("extension-apiserver-authentication-reader", "flexai-scheduler"),
            ("flexai-device-plugin", "flexai-device-plugin")})
        for b in bindings:
            self.assertEqual(b["subjects"][0]["namespace"], NAMESPACE)

    # --- the admission webhook ----------------------------------------------------------------

    def test_webhook_calls_hi_scheduler_mutate_only_for_flexai_pods(self):
        config = self.r.get("MutatingWebhookConfiguration", "flexai")
        (hook,) = config["webhooks"]
        self.assertEqual(hook["failurePolicy"], "Fail")
        self.assertEqual(hook["sideEffects"], "None")
        self.assertEqual(hook["admissionReviewVersions"], ["v1"])
        self.assertEqual(hook["clientConfig"]["service"],
                         {"name": "flexai-webhook", "namespace": NAMESPACE, "path": "/mutate",
                          "port": 443})
        self.assertEqual(hook["rules"][0]["operations"], ["CREATE"])
        self.assertEqual(hook["rules"][0]["resources"], ["pods"])
        expression = hook["matchConditions"][0]["expression"]
        lists = re.findall(r"r in \[([^\]]*)\]", expression)
        self.assertEqual(len(lists), 2, expression)  # limits and requests
        for names in lists:
            self.assertEqual(sorted(n.strip(" '") for n in names.split(",")), sorted(RESOURCES))
        self.assertEqual(hook["namespaceSelector"]["matchExpressions"][0]["values"],
                         ["kube-system"])

    def test_webhook_service_reaches_the_hi_scheduler_webhook_port(self):
        svc = self.r.get("Service", "flexai-webhook")
        port = svc["spec"]["ports"][0]
        self.assertEqual(port["port"], 443)
        container = self.r.container("Deployment", "flexai-scheduler", "hi-scheduler")
        named = {p["name"]: p["containerPort"] for p in container["ports"]}
        self.assertEqual(named[port["targetPort"]], 8443)
        labels = self.r.get("Deployment", "flexai-scheduler")["spec"]["template"]["metadata"][
            "labels"]
        self.assertLessEqual(svc["spec"]["selector"].items(), labels.items())

    def test_generated_certificate_is_signed_by_the_ca_bundle_and_names_the_service(self):
        secret = self.r.get("Secret", "flexai-webhook-tls")
        self.assertEqual(secret["type"], "kubernetes.io/tls")
        ca_bundle = self.r.get("MutatingWebhookConfiguration", "flexai")["webhooks"][0][
            "clientConfig"]["caBundle"]
        self.assertEqual(ca_bundle, secret["data"]["ca.crt"])
        with tempfile.TemporaryDirectory() as tmp:
            paths = {}
            for key in ("ca.crt", "tls.crt", "tls.key"):
                paths[key] = os.path.join(tmp, key)
                with open(paths[key], "wb") as f:
                    f.write(base64.b64decode(secret["data"][key]))
            verify = subprocess.run(["openssl", "verify", "-CAfile", paths["ca.crt"],
                                     paths["tls.crt"]], capture_output=True, text=True)
            self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
            text = subprocess.run(["openssl", "x509", "-in", paths["tls.crt"], "-noout", "-text"],
                                  capture_output=True, text=True, check=True).stdout
            self.assertIn(f"DNS:flexai-webhook.{NAMESPACE}.svc", text)
            key_pub = subprocess.run(["openssl", "pkey", "-in", paths["tls.key"], "-pubout"],
                                     capture_output=True, text=True, check=True).stdout
            cert_pub = subprocess.run(["openssl", "x509", "-in", paths["tls.crt"], "-noout",
                                       "-pubkey"], capture_output=True, text=True,
                                      check=True).stdout
            self.assertEqual(key_pub, cert_pub, "tls.key does not match tls.crt")
        mount = [m for m in self.r.container("Deployment", "flexai-scheduler", "hi-scheduler")[
            "volumeMounts"] if m["name"] == "webhook-tls"][0]
        self.assertEqual(mount["mountPath"], "/tls")
        spec = self.r.pod_spec("Deployment", "flexai-scheduler")
        volume = [v for v in spec["volumes"] if v["name"] == "webhook-tls"][0]
        self.assertEqual(volume["secret"]["defaultMode"], 0o440, "the key is not world-readable")
        self.assertEqual(spec["securityContext"]["fsGroup"], spec["securityContext"]["runAsUser"])

    def test_helm_test_checks_the_webhook_as_the_api_server_would(self):
        (pod,) = self.r.all("Pod")
        self.assertEqual(pod["metadata"]["annotations"]["helm.sh/hook"], "test")
        command = pod["spec"]["containers"][0]["command"]
        self.assertEqual(command[0], "curl")
        self.assertNotIn("-k", command)
        self.assertEqual(command[command.index("--cacert") + 1], "/etc/flexai-ca/ca.crt")
        self.assertEqual(command[-1], f"https://flexai-webhook.{NAMESPACE}.svc:443/healthz")
        self.assertEqual(pod["spec"]["volumes"][0]["secret"]["secretName"], "flexai-webhook-tls")

    def test_notes_tell_the_next_step(self):
        notes = render.notes()
        self.assertIn("rollout status deployment/flexai-scheduler", notes)
        self.assertIn("kubectl label node <NODE> flexai.io/enabled=true", notes)
        self.assertIn("deploy/examples/quarter-gpu-pod.yaml", notes)
        self.assertIn("kubectl flexai nodes", notes)
        self.assertIn("docs/install.md", notes)


class CertManagerTest(unittest.TestCase):
    def test_cert_manager_issues_the_certificate_and_injects_the_ca(self):
        r = render.template(VALUE_SETS["cert-manager"])
        self.assertFalse(r.has("Secret", "flexai-webhook-tls"), "the chart must not make one")
        cert = r.get("Certificate", "flexai-webhook-tls")
        self.assertEqual(cert["spec"]["secretName"], "flexai-webhook-tls")
        self.assertIn(f"flexai-webhook.{NAMESPACE}.svc", cert["spec"]["dnsNames"])
        self.assertEqual(cert["spec"]["issuerRef"],
                         {"name": "flexai-selfsigned", "kind": "Issuer", "group": "cert-manager.io"})
        self.assertIn("selfSigned", r.get("Issuer", "flexai-selfsigned")["spec"])
        hook = r.get("MutatingWebhookConfiguration", "flexai")
        self.assertEqual(hook["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
                         f"{NAMESPACE}/flexai-webhook-tls")
        self.assertNotIn("caBundle", hook["webhooks"][0]["clientConfig"])

    def test_an_existing_issuer_is_used_instead_of_a_self_signed_one(self):
        r = render.template({**VALUE_SETS["cert-manager"], "certManager.issuerRef.name": "corp-ca",
                             "certManager.issuerRef.kind": "ClusterIssuer"})
        self.assertEqual(r.all("Issuer"), [])
        self.assertEqual(r.get("Certificate", "flexai-webhook-tls")["spec"]["issuerRef"]["name"],
                         "corp-ca")


class AscendTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.r = render.template(VALUE_SETS["ascend"])

    def test_ascend_backend_gets_the_dcmi_driver_folders_read_only(self):
        c = self.r.container("DaemonSet", "flexai-device-plugin", "device-plugin")
        self.assertEqual(c["command"], device_plugin_args("ascend"))
        self.assertNotIn("NVIDIA_VISIBLE_DEVICES", [e["name"] for e in c["env"]])
        spec = self.r.pod_spec("DaemonSet", "flexai-device-plugin")
        host_paths = {v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
        self.assertEqual(host_paths, {"/var/lib/kubelet/device-plugins",
                                      "/usr/local/Ascend/driver", "/usr/local/dcmi"})
        self.assertNotIn("initContainers", spec, "no CUDA hook on Ascend nodes")
        for m in c["volumeMounts"]:
            if m["mountPath"].startswith("/usr/local/"):
                self.assertIs(m["readOnly"], True, m["name"])

    def test_ascend_needs_privilege_for_davinci_devices_and_nothing_else_changes(self):
        c = self.r.container("DaemonSet", "flexai-device-plugin", "device-plugin")
        self.assertEqual(c["securityContext"], {"privileged": True, "runAsUser": 0})
        self.assertEqual(sorted(self.r.extender()["managedResources"], key=str),
                         sorted(render.template().extender()["managedResources"], key=str))


class MpsTest(unittest.TestCase):
    """With MPS the control daemons run in a container of their own (mps-control), so that a
    restart of the device plugin's container leaves the MPS servers of running pods alone; the
    plugin only watches them. MPS clients reach the daemons through /dev/shm too: mps-control's
    /dev/shm is the host folder Allocate mounts at /dev/shm in MPS containers
    (src/device_plugin/plugin_settings.h MpsSharedMemoryDir)."""

    SHM = "/var/run/flexai/mps/shm"

    def containers(self, values):
        spec = render.template(values).pod_spec("DaemonSet", "flexai-device-plugin")
        return spec, {c["name"]: c for c in spec["containers"]}

    def shm_mounts(self, values):
        spec, containers = self.containers(values)
        volumes = {v["name"]: v for v in spec["volumes"]}
        return [(name, volumes[m["name"]]["hostPath"]["path"])
                for name, c in containers.items() for m in c.get("volumeMounts", [])
                if m["mountPath"] == "/dev/shm"]

    def test_mps_daemons_run_in_their_own_container_which_the_plugin_watches(self):
        spec, containers = self.containers(VALUE_SETS["mps"])
        self.assertEqual(sorted(containers), ["device-plugin", "mps-control"])
        plugin, mps = containers["device-plugin"], containers["mps-control"]
        self.assertEqual(plugin["command"][-2:], ["--mps-daemons", "watch"])
        self.assertEqual(mps["command"], [
            "flexai-device-plugin", "--mps-daemons-only", "--backend", "nvidia", "--mps-dir",
            "/var/run/flexai/mps", "--metrics-listen", "0.0.0.0:9401", "--log-level", "info"])
        # Both see the same pipe folder on the host.
        pipes = {c["name"]: [m["mountPath"] for m in c["volumeMounts"] if m["name"] == "mps-pipe-dir"]
                 for c in (plugin, mps)}
        self.assertEqual(pipes, {"device-plugin": ["/var/run/flexai/mps"],
                                 "mps-control": ["/var/run/flexai/mps"]})
        # The daemons see the GPUs; a liveness restart would kill every MPS server.
        env = {e["name"]: e.get("value") for e in mps["env"]}
        self.assertEqual(env["NVIDIA_VISIBLE_DEVICES"], "all")
        self.assertNotIn("livenessProbe", mps)
        self.assertIs(mps["securityContext"]["allowPrivilegeEscalation"], False)
        self.assertEqual(mps["ports"], [{"name": "mps-metrics", "containerPort": 9401}])
        # The MPS servers are charged to this container: a memory limit would OOM-kill them all.
        self.assertNotIn("limits", mps["resources"])

    def test_only_mps_control_gets_the_shared_dev_shm_and_without_host_ipc(self):
        self.assertEqual(self.shm_mounts(VALUE_SETS["mps"]), [("mps-control", self.SHM)])
        spec, _ = self.containers(VALUE_SETS["mps"])
        self.assertNotIn("hostIPC", spec)

    def test_extra_args_reach_both_containers(self):
        _, containers = self.containers({"devicePlugin.mps.enabled": "true",
                                         "devicePlugin.backend": "sim",
                                         "devicePlugin.extraArgs[0]": "--sim-config",
                                         "devicePlugin.extraArgs[1]": "/etc/sim/chips.yaml"})
        for c in containers.values():
            self.assertEqual(c["command"][-2:], ["--sim-config", "/etc/sim/chips.yaml"], c["name"])

    def test_a_policy_that_names_mps_turns_it_on_by_itself(self):
        self.assertEqual(len(self.shm_mounts({"policy.sharing.isolationMode": "mps"})), 1)
        override = {"policy.nodeOverrides[0].selector.matchLabels.pool": "training",
                    "policy.nodeOverrides[0].isolationMode": "mps"}
        self.assertEqual(len(self.shm_mounts(override)), 1)

    def test_no_mps_container_without_mps_or_on_ascend(self):
        for values in ({}, {"devicePlugin.backend": "ascend", "devicePlugin.mps.enabled": "true"}):
            with self.subTest(values=values):
                self.assertEqual(self.shm_mounts(values), [])
                _, containers = self.containers(values)
                self.assertEqual(list(containers), ["device-plugin"])
                self.assertNotIn("--mps-daemons", containers["device-plugin"]["command"])
                ports = render.template(values).get("Service", "flexai-device-plugin-metrics")
                self.assertEqual([p["name"] for p in ports["spec"]["ports"]], ["metrics"])

    def test_mps_metrics_are_served_and_scraped(self):
        r = render.template({**VALUE_SETS["mps"], **VALUE_SETS["service-monitor"]})
        svc = r.get("Service", "flexai-device-plugin-metrics")
        self.assertIn({"name": "mps-metrics", "port": 9401, "targetPort": "mps-metrics",
                       "protocol": "TCP"}, svc["spec"]["ports"])
        endpoints = r.get("ServiceMonitor", "flexai-device-plugin")["spec"]["endpoints"]
        self.assertEqual([e["port"] for e in endpoints], ["metrics", "mps-metrics"])


class AnnotationGuardTest(unittest.TestCase):
    """Only flexai's service accounts may write the pod annotations that say which slices a pod
    holds (a ValidatingAdmissionPolicy, evaluated by the API server)."""

    ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    WRITTEN = ["kAssignmentAnnotation", "kBindPhaseAnnotation", "kBindTimeAnnotation",
               "kBindNodeAnnotation", "kBindErrorAnnotation", "kDeviceIdsAnnotation",
               "kAllocatedContainersAnnotation"]

    def written_by_code(self):
        """The annotation keys of WRITTEN as the C++ headers define them."""
        keys = set()
        for header in ("src/kube/protocol.h", "src/device_plugin/cluster_client.h"):
            with open(os.path.join(self.ROOT, header)) as f:
                for name, key in re.findall(r"\b(k\w+Annotation)\b[^=]*=\s*\"([^\"]+)\"", f.read()):
                    if name in self.WRITTEN:
                        keys.add(key)
        return keys

    def policy(self, values=None):
        r = render.template(values or {})
        policies = [o for o in r.objects if o["kind"] == "ValidatingAdmissionPolicy"]
        bindings = [o for o in r.objects if o["kind"] == "ValidatingAdmissionPolicyBinding"]
        return r, policies, bindings

    def test_the_policy_protects_every_annotation_flexai_writes_on_pods(self):
        _, (policy,), (binding,) = self.policy()
        self.assertEqual(binding["spec"], {"policyName": policy["metadata"]["name"],
                                           "validationActions": ["Deny"]})
        (variable,) = policy["spec"]["variables"]
        listed = set(re.findall(r"'([^']+)'", variable["expression"]))
        self.assertEqual(len(self.written_by_code()), len(self.WRITTEN))
        self.assertEqual(listed, self.written_by_code())
        (rule,) = policy["spec"]["matchConstraints"]["resourceRules"]
        # pods/status may change annotations too; kubelet's status updates leave them unchanged.
        self.assertEqual(rule["resources"], ["pods", "pods/status"])
        self.assertEqual(sorted(rule["operations"]), ["CREATE", "UPDATE"])
        self.assertEqual(policy["spec"]["failurePolicy"], "Ignore")

    def test_flexai_service_accounts_and_cluster_admins_are_exempt(self):
        r, (policy,), _ = self.policy()
        accounts = set()
        for kind, name in (("Deployment", "flexai-scheduler"), ("DaemonSet", "flexai-device-plugin")):
            sa = r.pod_spec(kind, name)["serviceAccountName"]
            accounts.add(f"system:serviceaccount:{NAMESPACE}:{sa}")
        users, groups = policy["spec"]["matchConditions"]
        self.assertEqual(set(re.findall(r"'([^']+)'", users["expression"])), accounts)
        self.assertEqual(re.findall(r"'([^']+)'", groups["expression"]), ["system:masters"])
        for condition in (users, groups):
            self.assertEqual(condition["expression"].count("("), condition["expression"].count(")"))

    def test_a_group_that_would_break_the_cel_string_is_refused(self):
        # A values file, not --set (whose parser reads commas and backslashes itself).
        for group in ("CORP\\gpu-admins", "it's", "a,b"):
            with self.subTest(group=group), tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
                f.write("annotationGuard:\n  exemptGroups: [" + json.dumps(group) + "]\n")
                f.flush()
                done = render.run_helm("template", render.RELEASE, render.CHART, "--namespace",
                                       NAMESPACE, "-f", f.name)
                self.assertNotEqual(done.returncode, 0, done.stdout[-300:])
                self.assertIn("exemptGroups", done.stderr)

    def test_it_can_be_turned_off_or_left_without_exempt_groups(self):
        _, policies, bindings = self.policy({"annotationGuard.enabled": "false"})
        self.assertEqual((policies, bindings), ([], []))
        _, (policy,), _ = self.policy({"annotationGuard.exemptGroups": "null"})
        self.assertEqual([c["name"] for c in policy["spec"]["matchConditions"]], ["not-flexai"])


class ServiceMonitorTest(unittest.TestCase):
    def test_service_monitor_scrapes_the_device_plugin_metrics_service(self):
        r = render.template(VALUE_SETS["service-monitor"])
        monitor = r.get("ServiceMonitor", "flexai-device-plugin")
        self.assertEqual(monitor["apiVersion"], "monitoring.coreos.com/v1")
        svc = r.get("Service", "flexai-device-plugin-metrics")
        self.assertLessEqual(monitor["spec"]["selector"]["matchLabels"].items(),
                             svc["metadata"]["labels"].items())
        self.assertEqual(monitor["spec"]["endpoints"][0]["port"], svc["spec"]["ports"][0]["name"])
        self.assertEqual(monitor["spec"]["namespaceSelector"]["matchNames"], [NAMESPACE])

    def test_no_service_monitor_by_default(self):
        self.assertEqual(render.template().all("ServiceMonitor"), [])


class PreemptTest(unittest.TestCase):
    def test_preempt_verb_can_be_left_out(self):
        ext = render.template(VALUE_SETS["no-preempt"]).extender()
        self.assertNotIn("preemptVerb", ext)
        self.assertEqual((ext["filterVerb"], ext["prioritizeVerb"], ext["bindVerb"]),
                         ("filter", "prioritize", "bind"))


class OverridesTest(unittest.TestCase):
    def test_node_selector_tolerations_and_images_follow_values(self):
        r = render.template({"devicePlugin.nodeSelector.accelerator": "h100",
                             "devicePlugin.nodeSelector.flexai\\.io/enabled": "null",
                             "devicePlugin.tolerations[0].key": "dedicated",
                             "devicePlugin.tolerations[0].operator": "Exists",
                             "devicePlugin.runtimeClassName": "nvidia",
                             "image.tag": "9.9.9",
                             "scheduler.kubeScheduler.image.tag": "v1.31.9"})
        spec = r.pod_spec("DaemonSet", "flexai-device-plugin")
        self.assertEqual(spec["nodeSelector"], {"accelerator": "h100"})
        self.assertEqual(spec["tolerations"], [{"key": "dedicated", "operator": "Exists"}])
        self.assertEqual(spec["runtimeClassName"], "nvidia")
        self.assertEqual(spec["containers"][0]["image"], "ghcr.io/flexai/flexai:9.9.9")
        self.assertEqual(r.container("Deployment", "flexai-scheduler", "kube-scheduler")["image"],
                         "registry.k8s.io/kube-scheduler:v1.31.9")

    def test_disabling_the_webhook_keeps_the_tls_secret_hi_scheduler_serves_with(self):
        r = render.template({"webhook.enabled": "false"})
        self.assertEqual(r.all("MutatingWebhookConfiguration"), [])
        r.get("Secret", "flexai-webhook-tls")

    def test_another_release_name_prefixes_every_object(self):
        r = render.template(release="prod", namespace="gpu")
        r.get("Deployment", "prod-flexai-scheduler")
        args = r.container("Deployment", "prod-flexai-scheduler", "hi-scheduler")["command"]
        self.assertEqual(args[args.index("--follow-lease") + 1], "prod-flexai-scheduler")
        self.assertEqual(args[args.index("--lease-namespace") + 1], "gpu")
        self.assertEqual(r.scheduler_config("prod-flexai")["leaderElection"]["resourceName"],
                         "prod-flexai-scheduler")

    def test_custom_resource_names_flow_into_managed_resources(self):
        r = render.template({"policy.resources.gpu.cores": "example.com/vgpu-cores"})
        names = [m["name"] for m in r.extender()["managedResources"]]
        self.assertIn("example.com/vgpu-cores", names)
        self.assertNotIn("flexai.io/gpu-cores", names)
        expression = r.get("MutatingWebhookConfiguration", "flexai")["webhooks"][0][
            "matchConditions"][0]["expression"]
        self.assertIn("'example.com/vgpu-cores'", expression)
        self.assertNotIn("'flexai.io/gpu-cores'", expression)


if __name__ == "__main__":
    unittest.main()
