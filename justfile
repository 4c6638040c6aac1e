# TaskFlow — `just up` runs the product locally, `just test` runs every test.
set shell := ["bash", "-euo", "pipefail", "-c"]

venv := ".venv"
python := venv / "bin/python"

# List the recipes
default:
    @just --list

# Create or refresh the Python environment (cached: reruns take a second)
setup:
    scripts/bootstrap.sh

# Run the whole product locally on embedded defaults: http://localhost:8080 (--containers: from the images, in podman)
up *options: setup
    {{python}} -m taskflow_dev.local {{options}}

# Build every image with podman: deploy/Dockerfile's targets on a Debian base made here, PostgreSQL, Kafka (cached in .cache)
images *targets: setup
    {{python}} -m taskflow_dev.local.images {{targets}}

# Run the whole test suite (starts PostgreSQL itself)
test *pytest_args: setup
    scripts/test.sh {{pytest_args}}

# The whole suite while stress-ng keeps every core busy (finds waits that assume a quiet machine)
test-under-load *pytest_args: setup
    scripts/test-under-load.sh {{pytest_args}}

# Lint and format check
lint: setup
    {{venv}}/bin/ruff check .
    {{venv}}/bin/ruff format --check .

# Format the code
fmt: setup
    {{venv}}/bin/ruff format .
    {{venv}}/bin/ruff check --fix .

# Apply database migrations to DATABASE_URL (default: the embedded SQLite)
migrate: setup
    {{python}} -m taskflow.adapters.database upgrade

# Run only the local event router on its port (reads eventing/*.yaml; see specs/eventing.md)
router *options: setup
    {{python}} -m taskflow_dev.router {{options}}

# Print the events the local router dead-lettered (one structured CloudEvent per line)
dead-letters:
    @cat "${TASKFLOW_DATA_DIR:-data}/dead-letters.jsonl" 2>/dev/null || echo "no dead letters"

# Start Minikube with Knative, the Kafka broker, Strimzi and Dapr, build and deploy TaskFlow
minikube-up:
    scripts/deploy/minikube-up.sh

# Delete the Minikube profile of minikube-up
minikube-down:
    scripts/deploy/minikube-down.sh

# A single-node Kubernetes 1.34 built here from source, in its own network namespace, with Dapr, Kafka, Knative Serving and Traefik as its ingress (first run builds it: ~36 min)
cluster-up:
    scripts/cluster/up.sh

# Check the cluster-up cluster: node Ready, CoreDNS, a TaskFlow image from `just images` served as a pod, Dapr sidecars injected (mTLS, secrets, jobs), Kafka topics, Knative Services through the Traefik ingress (public, cluster-local) and a revision to zero and back, a Kafka-class Broker delivering to a zero-scaled TaskFlow function (OIDC) and dead-lettering a refused event, func deploy --build=false, the chart admitted (dry run), then the chart installed, scripts/deploy/smoke.sh passing against it and its PingSources delivering (scripts/cluster/taskflow.sh; PING_FROM_ZERO=1: one also wakes create-task from zero)
cluster-smoke:
    scripts/cluster/smoke.sh

# Stop the cluster-up cluster and undo every change it made on the host
cluster-down:
    scripts/cluster/down.sh

# Deploy to the current (or KUBE_CONTEXT) cluster: just deploy deploy/helm/taskflow/values-aks.yaml
deploy +values_files:
    scripts/deploy/deploy.sh {{values_files}}

# Knative Services, Brokers, Triggers, Kafka and pods of the deployment
status:
    scripts/deploy/status.sh

# Follow the logs of one service, or of all: just logs create-task
logs service="":
    scripts/deploy/logs.sh {{service}}

# Regenerate knative/, dapr/components/cluster/, eventing/pingsource.yaml and func.yaml files from the chart
render: setup
    {{python}} deploy/render.py

# Run the benchmarks (all, or some: just bench pipeline queries --backing postgres --quick); results in bench-results/
[positional-arguments]
bench *arguments: setup
    {{python}} -c "import matplotlib" 2>/dev/null || {{venv}}/bin/pip install -q -e ".[bench]"
    {{python}} -m bench "$@"
