"""Deployment as code: container images, Kubernetes, Terraform for GCP, dashboards and CI/CD.

``modelyard deploy generate DEPLOYMENT --target docker|kubernetes|cloudrun|grafana|all``
writes the files a platform team reviews in a pull request;
``modelyard deploy ci --provider github|cloudbuild`` writes the release
workflows; ``modelyard smoke URL`` checks a running endpoint.

Modules, one job each: ``spec`` (what is deployed), ``options`` (where it
points, writing files), ``docker``, ``kubernetes``, ``terraform``,
``grafana``, ``alerts`` (the PromQL both use), ``ci``, ``smoke``, and
``generate`` (the one service function the CLI calls).
"""
