"""Offline checks of the Helm chart (deploy/helm/livechat-rooms), with no cluster.

Real Helm (the Helm v4 SDK that PyPI's helm-python-sdk bundles) lints the chart strictly and renders
it for the defaults and every value set under ci/; the rendered manifests are validated against
Kubernetes' own schemas for 1.28 and 1.37 (kubernetes-validate, strict: unknown fields fail); then
the project's own assertions on what the chart renders: routes, probes, the Secret keys, the
security context, labels, the monitor, the dashboard, and that values.schema.json refuses wrong
values. Run by scripts/chart-check (which installs the pinned tools); prints 'N passed, N failed'.
"""

import base64
import json
import re
import sys
import traceback
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "deploy" / "helm" / "livechat-rooms"
KUBE_VERSIONS = ["1.28.0", "1.37.0"]
PATH = "/api/v1/livechat/rooms"
# Kinds Kubernetes' schemas do not hold (CRDs): checked by the assertions below instead.
CRD_KINDS = {"HTTPRoute", "IngressRoute", "PodMonitor", "ServiceMonitor", "GrafanaDashboard"}

results = []


def check(name):
    def run(fn):
        try:
            fn()
            results.append((name, None))
            print(f"ok   {name}")
        except Exception:  # noqa: BLE001 - every failure is reported, then counted
            results.append((name, traceback.format_exc()))
            print(f"FAIL {name}\n{traceback.format_exc()}")
        return fn

    return run


def value_sets():
    sets = {"defaults": {}}
    for path in sorted((CHART / "ci").glob("*-values.yaml")):
        sets[path.name] = yaml.safe_load(path.read_text()) or {}
    return sets


def render(values, namespace="rocketchat", name="livechat-rooms"):
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(values)
        manifests = chart.render(values, name=name, namespace=namespace, is_install=True)
    docs = []
    for path, text in manifests.items():
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                docs.append(doc)
    return docs


def notes(values):
    with helm.Chart.load(str(CHART)) as chart:
        manifests = chart.render(values, name="livechat-rooms", namespace="rocketchat", is_install=True)
    return next(text for path, text in manifests.items() if path.endswith("NOTES.txt"))


def kinds(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def one(docs, kind):
    found = kinds(docs, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def container(docs):
    return one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def env(docs):
    return {e["name"]: e for e in container(docs)["env"]}


SETS = value_sets()
RENDERED = {name: render(values) for name, values in SETS.items()}


@check("helm lint --strict passes for the defaults and every ci/ value set")
def _():
    for name, values in SETS.items():
        report = helm.lint(str(CHART), values or None, strict=True)
        problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
        assert not problems, f"{name}: {problems}"


@check("every rendered manifest is valid for Kubernetes 1.28 and 1.37 (strict schemas)")
def _():
    for name, docs in RENDERED.items():
        for doc in docs:
            if doc["kind"] in CRD_KINDS:
                continue
            for version in KUBE_VERSIONS:
                try:
                    kubernetes_validate.validate(doc, version, strict=True)
                except kubernetes_validate.ValidationError as e:
                    raise AssertionError(f"{name}: {doc['kind']} {doc['metadata']['name']} on {version}: {e.message}")


@check("the defaults render a Deployment, a Service, a PodDisruptionBudget and the cursor Secret, and no route")
def _():
    docs = RENDERED["defaults"]
    assert sorted(d["kind"] for d in docs) == ["Deployment", "PodDisruptionBudget", "Secret", "Service"], [d["kind"] for d in docs]
    assert one(docs, "Deployment")["spec"]["replicas"] == 2


@check("MONGO_URL comes from Rocket.Chat's Secret (rocketchat-rocketchat, key mongo-uri) by default")
def _():
    ref = env(RENDERED["defaults"])["MONGO_URL"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "rocketchat-rocketchat", "key": "mongo-uri"}, ref


@check("MONGO_URL from an existing Secret and key, or from a URL in the chart's own Secret")
def _():
    ref = env(RENDERED["monitor-existing-secret-values.yaml"])["MONGO_URL"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "mongodb-livechat-rooms", "key": "url"}, ref
    docs = RENDERED["url-values.yaml"]
    ref = env(docs)["MONGO_URL"]["valueFrom"]["secretKeyRef"]
    secret = next(d for d in kinds(docs, "Secret") if d["metadata"]["name"] == ref["name"])
    url = base64.b64decode(secret["data"][ref["key"]]).decode()
    assert url == SETS["url-values.yaml"]["mongo"]["url"], url


@check("CURSOR_SECRET comes from one Secret every replica shares, kept across upgrades")
def _():
    docs = RENDERED["defaults"]
    ref = env(docs)["CURSOR_SECRET"]["valueFrom"]["secretKeyRef"]
    secret = next(d for d in kinds(docs, "Secret") if d["metadata"]["name"] == ref["name"])
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert len(base64.b64decode(secret["data"][ref["key"]])) >= 32
    docs = RENDERED["monitor-existing-secret-values.yaml"]
    ref = env(docs)["CURSOR_SECRET"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "livechat-rooms-cursor", "key": "secret"}, ref
    assert not kinds(docs, "Secret"), "no Secret is made when both are existing ones"


@check("the pod runs non-root, read-only, without privilege escalation or capabilities, seccomp RuntimeDefault")
def _():
    for name, docs in RENDERED.items():
        pod = one(docs, "Deployment")["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        sc = pod["containers"][0]["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True, name
        assert sc["allowPrivilegeEscalation"] is False, name
        assert sc["capabilities"] == {"drop": ["ALL"]}, name


@check("readiness on /ready, liveness on /health, on the port named http; resources set")
def _():
    c = container(RENDERED["defaults"])
    assert c["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert c["ports"] == [{"name": "http", "containerPort": 3000, "protocol": "TCP"}]
    assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
    assert c["resources"]["limits"]["memory"]


@check("the grace period is longer than the shutdown delay plus SHUTDOWN_TIMEOUT_SECS")
def _():
    for name, docs in RENDERED.items():
        pod = one(docs, "Deployment")["spec"]["template"]["spec"]
        e = env(docs)
        delay = int(e["SHUTDOWN_DELAY_SECS"]["value"])
        timeout = int(e["SHUTDOWN_TIMEOUT_SECS"]["value"])
        assert delay > 0, "the proxy is given time to stop sending"
        assert pod["terminationGracePeriodSeconds"] > delay + timeout, name


@check("every variable of the README's configuration table is set by the chart")
def _():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    variables = re.findall(r"^\| `([A-Z_]+)` \|", table, re.M)
    assert len(variables) >= 10, variables
    e = env(RENDERED["defaults"])
    missing = [v for v in variables if v not in e]
    assert not missing, f"not settable through the chart: {missing}"
    assert e["BIND_IP"]["value"] == "0.0.0.0" and e["PORT"]["value"] == "3000"


@check("labels: the app's own name (never rocketchat, which Rocket.Chat's Service selects), selectors match")
def _():
    for name, docs in RENDERED.items():
        for doc in docs:
            labels = doc["metadata"]["labels"]
            assert labels["app.kubernetes.io/name"] == "livechat-rooms", (name, doc["kind"])
            assert labels["app.kubernetes.io/instance"] == "livechat-rooms"
        deployment = one(docs, "Deployment")
        selector = deployment["spec"]["selector"]["matchLabels"]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert all(pod_labels[k] == v for k, v in selector.items())
        assert one(docs, "Service")["spec"]["selector"] == selector
        assert pod_labels.get("app.kubernetes.io/name") != "rocketchat"


@check("the Service has one port named http")
def _():
    ports = one(RENDERED["defaults"], "Service")["spec"]["ports"]
    assert [(p["name"], p["port"], p["targetPort"]) for p in ports] == [("http", 3000, "http")]


@check("HTTPRoute: Exact path and GET on Rocket.Chat's host, parent Gateway from values, the Service as backend")
def _():
    route = one(RENDERED["httproute-values.yaml"], "HTTPRoute")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"]["parentRefs"] == SETS["httproute-values.yaml"]["route"]["httpRoute"]["parentRefs"]
    assert route["spec"]["hostnames"] == ["chat.example.com"]
    [rule] = route["spec"]["rules"]
    assert rule["matches"] == [{"path": {"type": "Exact", "value": PATH}, "method": "GET"}]
    assert rule["backendRefs"] == [{"name": "livechat-rooms", "port": 3000}]


@check("Traefik IngressRoute: Host, Path and Method(GET) matched, above Rocket.Chat's router")
def _():
    route = one(RENDERED["traefik-values.yaml"], "IngressRoute")
    assert route["apiVersion"] == "traefik.io/v1alpha1"
    [r] = route["spec"]["routes"]
    assert r["match"] == "Host(`chat.example.com`) && Path(`/api/v1/livechat/rooms`) && (Method(`GET`))", r["match"]
    assert r["priority"] >= 100
    assert r["services"] == [{"kind": "Service", "name": "livechat-rooms", "port": 3000}]
    assert route["spec"]["tls"] == {"secretName": "chat-tls"}


@check("Ingress: Exact path on Rocket.Chat's host, to the Service's http port")
def _():
    ingress = one(RENDERED["ingress-values.yaml"], "Ingress")
    [rule] = ingress["spec"]["rules"]
    assert rule["host"] == "chat.example.com"
    [path] = rule["http"]["paths"]
    assert path == {"path": PATH, "pathType": "Exact", "backend": {"service": {"name": "livechat-rooms", "port": {"name": "http"}}}}
    assert ingress["spec"]["ingressClassName"] == "traefik"


@check("the monitor: rendered when forced (PodMonitor or ServiceMonitor), scraping /metrics on http; not by default offline")
def _():
    assert not kinds(RENDERED["defaults"], "PodMonitor")
    monitor = one(RENDERED["url-values.yaml"], "PodMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["podMetricsEndpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]
    assert monitor["spec"]["selector"]["matchLabels"] == one(RENDERED["url-values.yaml"], "Deployment")["spec"]["selector"]["matchLabels"]
    monitor = one(RENDERED["monitor-existing-secret-values.yaml"], "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "http"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


@check("the dashboard: the chart's copy is deploy/grafana's, offered as a sidecar ConfigMap and a GrafanaDashboard")
def _():
    ours = (ROOT / "deploy" / "grafana" / "livechat-rooms.json").read_text()
    assert (CHART / "dashboards" / "livechat-rooms.json").read_text() == ours, "run: cp deploy/grafana/livechat-rooms.json deploy/helm/livechat-rooms/dashboards/"
    docs = RENDERED["monitor-existing-secret-values.yaml"]
    cm = one(docs, "ConfigMap")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(cm["data"]["livechat-rooms.json"]) == json.loads(ours)
    gd = one(docs, "GrafanaDashboard")
    assert gd["spec"]["instanceSelector"] == {"matchLabels": {"grafana": "dashboards"}}
    assert gd["spec"]["datasources"] == [{"inputName": "DS_PROMETHEUS", "datasourceName": "prometheus"}]
    assert json.loads(gd["spec"]["json"]) == json.loads(ours)
    inputs = json.loads(ours)["__inputs"]
    assert [i["name"] for i in inputs] == ["DS_PROMETHEUS"]


@check("a private CA for MongoDB is mounted read-only from its Secret")
def _():
    docs = RENDERED["monitor-existing-secret-values.yaml"]
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["volumes"] == [{"name": "mongo-ca", "secret": {"secretName": "mongodb-ca", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]
    assert pod["containers"][0]["volumeMounts"] == [{"name": "mongo-ca", "mountPath": "/etc/livechat-rooms/mongo-ca", "readOnly": True}]


@check("the autoscaler replaces the fixed replica count")
def _():
    docs = RENDERED["monitor-existing-secret-values.yaml"]
    hpa = one(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "livechat-rooms"
    assert "replicas" not in one(docs, "Deployment")["spec"]
    e = env(docs)
    assert e["HTTP_FORWARDED_COUNT"]["value"] == "1"
    assert e["TZ"]["value"] == "UTC"


@check("values.schema.json refuses wrong values at install")
def _():
    wrong = [
        {"replicaCount": "two"},
        {"config": {"omnichannelUnitRestrictions": "maybe"}},
        {"config": {"cacheMaxAgeMs": 60000}},
        {"mongo": {"existingSecret": "", "url": ""}},
        {"mongo": {"existingSecret": "", "url": "postgres://x"}},
        {"route": {"methods": []}},
        {"monitoring": {"kind": "Probe"}},
        {"unknownKey": 1},
    ]
    with helm.Chart.load(str(CHART)) as chart:
        for values in wrong:
            try:
                chart.validate_schema(values)
            except Exception:  # noqa: BLE001 - the SDK's own error type
                continue
            raise AssertionError(f"accepted {values}")


@check("a route without Rocket.Chat's host fails at render with a message that names it")
def _():
    for values in [{"route": {"traefik": {"enabled": True}}}, {"route": {"ingress": {"enabled": True}}}]:
        try:
            render(values)
        except Exception as e:  # noqa: BLE001 - the SDK's own error type
            assert "route.host" in str(e), e
            continue
        raise AssertionError(f"rendered {values}")


@check("NOTES.txt says how to check the install, through the route when there is one")
def _():
    text = notes({})
    assert "rollout status deployment/livechat-rooms" in text and "/ready" in text
    assert "No route is switched on" in text
    text = notes(SETS["traefik-values.yaml"])
    assert "https://chat.example.com/api/v1/livechat/rooms" in text


failed = [r for r in results if r[1]]
print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
