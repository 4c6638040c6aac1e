#!/usr/bin/env bash
# The cluster's certificates and kubeconfigs, generated here with openssl into .cache/cluster/pki
# (kept between runs; delete the folder for new ones). One CA signs every certificate; the
# subjects are the identities the Node and RBAC authorizers know:
#   apiserver                serving certificate (the node address, the kubernetes Service IP)
#   apiserver-kubelet-client the API server dialling kubelets (logs, exec)  O=system:masters
#   admin                    kubectl                                         O=system:masters
#   kubelet                  system:node:<node>, group system:nodes (the Node authorizer)
#   controller-manager       system:kube-controller-manager
#   scheduler                system:kube-scheduler
#   kube-proxy               system:kube-proxy (bound to system:node-proxier by default RBAC)
#   sa.key / sa.pub          signs and checks service account tokens
set -euo pipefail
source "$(dirname "$0")/common.sh"

DAYS=3650
mkdir -p "$PKI"
cd "$PKI"

if [ ! -f ca.crt ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days "$DAYS" \
        -subj "/CN=taskflow-cluster-ca" 2>/dev/null
fi
if [ ! -f sa.key ]; then
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
fi

# certificate NAME SUBJECT USAGE [SANS]: a key and a CA-signed certificate, once.
certificate() {
    local name=$1 subject=$2 usage=$3 sans=${4:-}
    [ -f "$name.crt" ] && return
    openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "$subject" \
        2>/dev/null
    {
        echo "basicConstraints=CA:FALSE"
        echo "keyUsage=critical,digitalSignature,keyEncipherment"
        echo "extendedKeyUsage=$usage"
        [ -z "$sans" ] || echo "subjectAltName=$sans"
    } >"$name.ext"
    openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days "$DAYS" \
        -extfile "$name.ext" -out "$name.crt" 2>/dev/null
    rm -f "$name.csr" "$name.ext"
}

certificate apiserver "/CN=kube-apiserver" serverAuth \
    "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:$NODE_IP,IP:$KUBERNETES_SERVICE_IP,IP:127.0.0.1"
certificate apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
certificate admin "/O=system:masters/CN=kubernetes-admin" clientAuth
certificate kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
certificate controller-manager "/CN=system:kube-controller-manager" clientAuth
certificate scheduler "/CN=system:kube-scheduler" clientAuth
certificate kube-proxy "/CN=system:kube-proxy" clientAuth

# kubeconfig NAME: NAME.kubeconfig using NAME.crt/.key against the API server.
kubeconfig() {
    local name=$1
    cat >"$name.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: taskflow
  cluster:
    server: $API_SERVER
    certificate-authority: $PKI/ca.crt
users:
- name: $name
  user:
    client-certificate: $PKI/$name.crt
    client-key: $PKI/$name.key
contexts:
- name: taskflow
  context: {cluster: taskflow, user: $name}
current-context: taskflow
EOF
}

for name in admin kubelet controller-manager scheduler kube-proxy; do
    kubeconfig "$name"
done
chmod 600 ./*.key
