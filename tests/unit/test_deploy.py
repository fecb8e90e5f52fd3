"""The deployment files: compose.yaml against the compose-spec schema, deploy/kubernetes/
against the Kubernetes schemas (kubernetes-validate, offline) and KEDA's ScaledObject CRD
schema (vendored in tests/fixtures), and every setting they set is one the service reads.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version
from pydantic import AliasChoices

from c3render.job import JobType
from c3render.queue import keys
from c3render.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
GPU_TYPES = {"csm", "whisper", "analyze"}
"""The job types with a GPU engine (CSM-1B, Whisper large, a vision-language model)."""
KEDA_REDIS_STREAMS_METADATA = {
    "address", "host", "port", "addressFromEnv", "hostFromEnv", "portFromEnv",
    "usernameFromEnv", "passwordFromEnv", "stream", "consumerGroup", "pendingEntriesCount",
    "streamLength", "lagCount", "activationLagCount", "enableTLS", "unsafeSsl", "databaseIndex",
}
"""The redis-streams trigger's metadata names, as KEDA's scaler page lists them."""
NOT_SETTINGS = {"NVIDIA_DRIVER_CAPABILITIES", "REDIS_PASSWORD"}
"""Variables the files set for others (the NVIDIA runtime, KEDA), not for the service."""


def _setting_names() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice) for choice in alias.choices)
        else:
            names.add(f"C3_{name.upper()}")
    return names


SETTINGS = _setting_names()


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return data


def _manifests() -> list[dict[str, Any]]:
    found = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        found += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def _of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in _manifests() if doc["kind"] == kind]


# --- compose.yaml ----------------------------------------------------------------------------

def test_compose_file_follows_the_compose_spec() -> None:
    schema_file = files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text())
    jsonschema.Draft202012Validator(schema).validate(_compose())


def test_the_gpu_profile_reserves_a_gpu_for_the_gpu_job_types() -> None:
    services = _compose()["services"]
    assert {name for name, s in services.items() if not s.get("profiles")} == {
        "redis", "api", "worker"}
    gpu = services["worker-gpu"]
    assert gpu["profiles"] == ["gpu"]
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert gpu["build"]["args"]["GPU"] == "1"
    assert gpu["environment"]["C3_DEVICE"] == "cuda"
    types = gpu["command"][gpu["command"].index("--types") + 1]
    assert set(types.split(":-", 1)[1].rstrip("}").split(",")) <= GPU_TYPES
    assert gpu["environment"]["REDIS_HOST"] == "redis"  # the shared settings merged in
    assert any(str(volume).endswith(":/models:ro") for volume in gpu["volumes"])


def test_compose_sets_only_settings_the_service_reads() -> None:
    for service in _compose()["services"].values():
        unknown = set(service.get("environment") or {}) - SETTINGS - NOT_SETTINGS
        assert not unknown


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="docker compose is not installed (the schema test above still checks the file)",
)
def test_docker_compose_accepts_the_file() -> None:
    env = dict(os.environ, FLASK_SECRET_KEY="x" * 32, C3_API_KEYS="ui:" + "k" * 32)
    subprocess.run(["docker", "compose", "-f", str(ROOT / "compose.yaml"), "--profile", "gpu",
                    "config", "--quiet"], env=env, check=True)


# --- deploy/kubernetes -----------------------------------------------------------------------

def test_core_manifests_follow_the_kubernetes_schemas() -> None:
    version = latest_version()
    checked = set()
    for doc in _manifests():
        if doc["apiVersion"].startswith("keda.sh/"):
            continue
        kubernetes_validate.validate(doc, version, strict=True)  # unknown fields fail too
        checked.add(doc["kind"])
    assert {"Namespace", "ConfigMap", "Secret", "Deployment", "Service"} <= checked


def _strict(schema: Any) -> Any:
    """The CRD schema with unknown fields refused (Kubernetes would silently prune them)."""
    if isinstance(schema, dict):
        schema = {key: _strict(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema \
                and schema["properties"].keys() != {"metadata"}:
            schema["additionalProperties"] = False
    return schema


def test_scaled_objects_follow_kedas_crd_schema() -> None:
    crd = json.loads((ROOT / "tests" / "fixtures" / "keda_scaledobject_schema.json").read_text())
    validator = jsonschema.Draft7Validator(_strict(crd))
    scaled = _of_kind("ScaledObject")
    assert scaled
    for doc in scaled:
        validator.validate(doc)


def test_each_job_type_scales_on_its_own_queue() -> None:
    deployments = {d["metadata"]["name"]: d for d in _of_kind("Deployment")}
    auth = {d["metadata"]["name"]: d for d in _of_kind("TriggerAuthentication")}
    secret_keys = set(_of_kind("Secret")[0]["stringData"])
    scaled_types = set()
    for doc in _of_kind("ScaledObject"):
        target = deployments[doc["spec"]["scaleTargetRef"]["name"]]
        command = target["spec"]["template"]["spec"]["containers"][0]["command"]
        job_type = command[command.index("--types") + 1]
        assert job_type in {t.value for t in JobType}  # one type per worker Deployment
        (trigger,) = doc["spec"]["triggers"]
        assert trigger["type"] == "redis-streams"
        assert set(trigger["metadata"]) <= KEDA_REDIS_STREAMS_METADATA
        assert trigger["metadata"]["stream"] == keys.queue(job_type)
        # no consumerGroup: KEDA then scales on XLEN (waiting + running), see keda.yaml
        assert "consumerGroup" not in trigger["metadata"]
        assert int(trigger["metadata"]["streamLength"]) >= 1
        assert doc["spec"]["minReplicaCount"] >= 1
        ref = auth[trigger["authenticationRef"]["name"]]
        assert {r["key"] for r in ref["spec"]["secretTargetRef"]} <= secret_keys
        scaled_types.add(job_type)
    assert scaled_types == {t.value for t in JobType}


def test_pods_read_only_settings_that_exist_and_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    config = _of_kind("ConfigMap")[0]["data"]
    secret = _of_kind("Secret")[0]["stringData"]
    assert not (set(config) | set(secret)) - SETTINGS - NOT_SETTINGS
    for deployment in _of_kind("Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert {ref.get("configMapRef", ref.get("secretRef"))["name"]
                for ref in container["envFrom"]} == {"c3render"}
        env = {**config, **{e["name"]: e["value"] for e in container.get("env", [])}}
        assert not set(env) - SETTINGS
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        load_settings(flask_secret_key="k" * 32)  # the pod's settings validate
        for name in env:
            monkeypatch.delenv(name)
        if "worker" in deployment["metadata"]["name"]:
            grace = float(config["C3_SHUTDOWN_GRACE_SECONDS"])
            assert pod["terminationGracePeriodSeconds"] > grace + 10
