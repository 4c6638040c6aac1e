"""The local Knative-like broker: reads the Broker and Trigger manifests in eventing/ and delivers
CloudEvents to the functions over HTTP the way the Knative Kafka broker does (specs/eventing.md)."""
