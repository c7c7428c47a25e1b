"""Renders the flexai chart with a real Helm 3 and returns the objects, for the chart tests.

Helm comes from scripts/get-helm.sh (cached after the first download); when it cannot be had the
tests fail with the script's message, they never skip.
"""

import os
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:  # pragma: no cover - environment check
    sys.exit("chart tests need PyYAML: apt-get install python3-yaml (scripts/install-deps.sh does)")

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHART = os.path.join(REPO, "deploy", "helm", "flexai")
RELEASE = "flexai"
NAMESPACE = "flexai-system"

_helm_path = None


def helm():
    """Path of the Helm binary, installed on first use."""
    global _helm_path
    if _helm_path is None:
        done = subprocess.run([os.path.join(REPO, "scripts", "get-helm.sh")],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError("scripts/get-helm.sh failed, so the chart cannot be tested:\n" +
                               done.stderr)
        _helm_path = done.stdout.strip().splitlines()[-1]
    return _helm_path


def run_helm(*args):
    """Runs helm; returns CompletedProcess (never raises on a non-zero exit)."""
    env = dict(os.environ)
    # Keep Helm away from the user's config and any cluster.
    cache = os.path.join(REPO, ".cache", "helm-home")
    env.update(HELM_CONFIG_HOME=os.path.join(cache, "config"),
               HELM_CACHE_HOME=os.path.join(cache, "cache"),
               HELM_DATA_HOME=os.path.join(cache, "data"),
               KUBECONFIG=os.devnull)
    return subprocess.run([helm(), *args], capture_output=True, text=True, env=env)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate mapping keys (kubectl apply refuses them too)."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                 _construct_mapping)


def load_all(text):
    return [doc for doc in yaml.load_all(text, Loader=_UniqueKeyLoader) if doc]


def load(text):
    return yaml.load(text, Loader=_UniqueKeyLoader)


def set_args(values):
    args = []
    for key, value in (values or {}).items():
        args += ["--set", f"{key}={value}"]
    return args


def template(values=None, release=RELEASE, namespace=NAMESPACE):
    """Renders the chart with `--set key=value` for each item of `values`; returns the objects."""
    done = run_helm("template", release, CHART, "--namespace", namespace, *set_args(values))
    if done.returncode != 0:
        raise AssertionError(f"helm template failed:\n{done.stderr}")
    return Rendered(load_all(done.stdout))


def template_error(values):
    """Renders expecting failure; returns Helm's error text (raises when it succeeds)."""
    done = run_helm("template", RELEASE, CHART, "--namespace", NAMESPACE, *set_args(values))
    if done.returncode == 0:
        raise AssertionError(f"helm template accepted {values}")
    return done.stderr


def notes(values=None):
    """NOTES.txt as `helm install` would print it.

    `helm template` never renders NOTES.txt and `helm install --dry-run` wants a cluster, so a
    copy of the chart renders it through `tpl` inside a ConfigMap.
    """
    with tempfile.TemporaryDirectory() as tmp:
        chart = os.path.join(tmp, "flexai")
        shutil.copytree(CHART, chart)
        shutil.copy(os.path.join(chart, "templates", "NOTES.txt"), os.path.join(chart, "notes.tpl"))
        with open(os.path.join(chart, "templates", "zz-notes.yaml"), "w") as f:
            f.write("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: zz-notes}\ndata:\n"
                    "  notes: {{ tpl (.Files.Get \"notes.tpl\") . | toJson }}\n")
        done = run_helm("template", RELEASE, chart, "--namespace", NAMESPACE,
                        "--show-only", "templates/zz-notes.yaml", *set_args(values))
        if done.returncode != 0:
            raise AssertionError(f"rendering NOTES.txt failed:\n{done.stderr}")
        return load(done.stdout)["data"]["notes"]


class Rendered:
    """The rendered objects, with lookups by kind and name."""

    def __init__(self, objects):
        self.objects = objects

    def kinds(self):
        return sorted({o["kind"] for o in self.objects})

    def all(self, kind):
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind, name):
        found = [o for o in self.all(kind) if o["metadata"]["name"] == name]
        if len(found) != 1:
            raise AssertionError(f"expected one {kind}/{name}, found {len(found)}; kinds: "
                                 f"{[(o['kind'], o['metadata']['name']) for o in self.objects]}")
        return found[0]

    def has(self, kind, name):
        return any(o["metadata"]["name"] == name for o in self.all(kind))

    def container(self, kind, name, container):
        spec = self.get(kind, name)["spec"]["template"]["spec"]
        for c in spec["containers"]:
            if c["name"] == container:
                return c
        raise AssertionError(f"{kind}/{name} has no container {container}")

    def pod_spec(self, kind, name):
        return self.get(kind, name)["spec"]["template"]["spec"]

    def scheduler_config(self, prefix="flexai"):
        cm = self.get("ConfigMap", f"{prefix}-scheduler-config")
        return load(cm["data"]["scheduler-config.yaml"])

    def extender(self):
        extenders = self.scheduler_config()["extenders"]
        if len(extenders) != 1:
            raise AssertionError(f"expected one extender, got {extenders}")
        return extenders[0]
