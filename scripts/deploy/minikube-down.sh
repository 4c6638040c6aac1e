#!/usr/bin/env bash
# Delete the Minikube profile that minikube-up created, with everything in it.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
require_tool minikube "Install it: https://minikube.sigs.k8s.io/docs/start/"

minikube delete --profile "${MINIKUBE_PROFILE:-taskflow}"
