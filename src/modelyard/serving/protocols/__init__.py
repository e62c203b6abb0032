"""Wire formats: each module turns its protocol's body into a Payload and an answer into bytes.

* :mod:`~modelyard.serving.protocols.plain` — ``POST /v1/models/{name}/predict``;
* :mod:`~modelyard.serving.protocols.v2` — the Open Inference Protocol (KServe V2),
  JSON and the binary tensor extension;
* :mod:`~modelyard.serving.protocols.mlflow` — ``POST /invocations`` as
  ``mlflow models serve`` takes it.

Protocol modules hold no serving logic: routing, batching and logging happen
in :mod:`modelyard.serving.service`, once for all of them.
"""
