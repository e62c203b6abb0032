"""The Examples section of every command's help, in one place.

Keys are command paths as typed after ``modelyard`` (``""`` is ``modelyard``
itself, ``"models policy"`` a group); values are example command lines, a
``#`` comment after two spaces saying what the line does. ``_help.polish``
attaches them as each command's epilog when the command tree is built, so a
new command needs one entry here and no edit of its decorator; the CLI tests
fail for any command without one.
"""

from __future__ import annotations

EXAMPLES: dict[str, tuple[str, ...]] = {
    "": (
        "modelyard quickstart  # the whole lifecycle on ./.modelyard",
        "modelyard info  # the configuration in force",
        "modelyard models list",
        "modelyard --install-completion  # tab completion for your shell",
    ),
    "serve": (
        "modelyard serve credit-risk@champion --port 8080",
        "modelyard serve deployment.yaml --workers 2  # routes, canary and shadow from a file",
        "modelyard serve credit-risk@champion --log-sink redis --redis-url redis://localhost:6379",
    ),
    "server": (
        "modelyard server --port 8000  # UI at /, API at /api/v1, docs at /api/docs",
        "modelyard server --host 0.0.0.0 --port 8000 --secure-cookies  # behind TLS",
    ),
    "smoke": (
        "modelyard smoke http://127.0.0.1:8080 --model credit-risk",
        "modelyard smoke https://scoring.internal --model credit-risk "
        "--expect-known-answer known-answer.json --latency-budget-ms 200",
    ),
    "login": (
        "modelyard login  # paste the token when asked",
        "modelyard login --token myd_...  # in a script",
    ),
    "logout": ("modelyard logout  # forget the token saved for this store",),
    "info": ("modelyard info", "modelyard info --json"),
    "quickstart": (
        "modelyard quickstart",
        "modelyard quickstart --keep-serving --port 8000  # then serve the web UI",
        "modelyard quickstart --rows 5000 --portfolio-rows 10000  # a quicker run",
    ),
    "db": ("modelyard db upgrade",),
    "db upgrade": ("modelyard db upgrade  # apply pending schema migrations",),
    "data": ("modelyard data synth --rows 50000 -o loans.parquet",),
    "data synth": (
        "modelyard data synth --rows 50000 -o loans.parquet",
        "modelyard data synth --scenario income_shift --start-date 2026-04-01 -o drifted.parquet",
        "modelyard data synth --out-of-time --rows 120000 -o loans-2025.parquet",
        "modelyard data synth --list  # the drift scenarios",
    ),
    "datasets": (
        "modelyard datasets register loans loans.parquet",
        "modelyard datasets show loans/1",
    ),
    "datasets register": (
        "modelyard datasets register loans loans.parquet",
        "modelyard datasets register loans-clean clean/ --parent loans/1 "
        "--description 'deduplicated'",
        "modelyard datasets register loans gs://bank/loans/*.parquet --no-copy",
    ),
    "datasets list": ("modelyard datasets list", "modelyard datasets list --json"),
    "datasets show": ("modelyard datasets show loans/1", "modelyard datasets show loans@latest"),
    "runs": (
        "modelyard runs list -e credit-risk",
        "modelyard runs show 1a2b3c4d",
    ),
    "runs list": (
        "modelyard runs list -e credit-risk",
        "modelyard runs list --filter \"metrics.auc > 0.7 and params.num_leaves = '31'\" "
        "--order-by 'metrics.auc desc'",
        "modelyard runs list --wide  # every column, for a wide terminal",
    ),
    "runs show": ("modelyard runs show 1a2b3c4d", "modelyard runs show 1a2b3c4d --json"),
    "runs compare": ("modelyard runs compare 1a2b3c4d 5e6f7a8b",),
    "models": (
        "modelyard models list",
        "modelyard models get credit-risk@champion",
        "modelyard models approve credit-risk/1 --role validator -m 'validated'",
    ),
    "models create": (
        "modelyard models create credit-risk --description 'PD model' --owner risk-team",
        "modelyard models create pricing --risk-tier 3",
    ),
    "models list": ("modelyard models list", "modelyard models list --json"),
    "models show": ("modelyard models show credit-risk",),
    "models versions": ("modelyard models versions credit-risk",),
    "models get": (
        "modelyard models get credit-risk@champion",
        "modelyard models get credit-risk/3",
    ),
    "models register": (
        "modelyard models register credit-risk model/ --example sample.parquet --run 1a2b3c4d",
        "modelyard models register credit-risk model.pkl --example sample.parquet",
    ),
    "models alias": (
        "modelyard models alias credit-risk champion 1",
        "modelyard models alias credit-risk challenger 2",
        "modelyard models alias credit-risk staging --delete",
    ),
    "models approve": (
        "modelyard models approve credit-risk/1 --role validator -m 'validated'",
        "modelyard models approve credit-risk/1 --role approver -m 'approved'",
    ),
    "models reject": ("modelyard models reject credit-risk/2 --role validator -m 'unstable PSI'",),
    "models archive": ("modelyard models archive credit-risk/1",),
    "models lineage": (
        "modelyard models lineage credit-risk@champion",
        "modelyard models lineage credit-risk/2 --json",
    ),
    "models validate": (
        "modelyard models validate credit-risk/2 --data loans-holdout/1",
        "modelyard models validate credit-risk/2 --data loans-holdout/1 --segment region "
        "--fairness home_ownership",
    ),
    "models card": ("modelyard models card credit-risk@champion",),
    "models reasons": (
        "modelyard models reasons credit-risk/3 reasons.yaml  # a reason per column or excluded",
        "modelyard models reasons credit-risk@champion  # show the registered table",
        "modelyard models reasons credit-risk/3 --json",
    ),
    "models document": (
        "modelyard models document credit-risk@champion  # HTML and Markdown under <home>/reports",
        "modelyard models document credit-risk/3 --output docs/credit-risk-v3",
    ),
    "models compile": (
        "modelyard models compile credit-risk/2 --data loans-holdout/1",
        "modelyard models compile credit-risk/2 --data loans-holdout/1 --tolerance 1e-5",
    ),
    "models import-mlflow": (
        "modelyard models import-mlflow mlruns/0/abc/artifacts/model --name credit-risk",
    ),
    "models reproduce": (
        "modelyard models reproduce credit-risk@champion  # same metrics?",
        "modelyard models reproduce credit-risk/2 --tolerance 1e-6",
    ),
    "models policy": (
        "modelyard models policy set credit-risk --risk-tier 1",
        "modelyard models policy request credit-risk --risk-tier 2 -m 'low exposure'",
    ),
    "models policy set": (
        "modelyard models policy set credit-risk --risk-tier 1  # tighten at once",
        "modelyard models policy set credit-risk "
        '--policy \'{"protected_aliases": ["champion", "staging"]}\'',
    ),
    "models policy request": (
        "modelyard models policy request credit-risk --risk-tier 2 -m 'low exposure'",
    ),
    "models policy sign-off": ("modelyard models policy sign-off credit-risk 1 -m 'agreed'",),
    "models policy reject": ("modelyard models policy reject credit-risk 1 -m 'not yet'",),
    "models policy list": (
        "modelyard models policy list credit-risk",
        "modelyard models policy list credit-risk --status pending",
    ),
    "pipeline": (
        "modelyard pipeline run examples/credit_risk/pipeline.py:train",
        "modelyard pipeline compile examples/credit_risk/pipeline.py:train -o pipeline.yaml",
    ),
    "pipeline run": (
        "modelyard pipeline run examples/credit_risk/pipeline.py:train",
        "modelyard pipeline run examples/credit_risk/pipeline.py:train -p rows=50000 --no-cache",
        "modelyard pipeline run examples/credit_risk/pipeline.py:train --ci > result.json",
    ),
    "pipeline show": ("modelyard pipeline show examples/credit_risk/pipeline.py:train",),
    "pipeline compile": (
        "modelyard pipeline compile examples/credit_risk/pipeline.py:train --target kfp "
        "-o pipeline.yaml",
        "modelyard pipeline compile examples/credit_risk/pipeline.py:train -o pipeline.yaml "
        "--image europe-docker.pkg.dev/bank/modelyard/platform:1.0 "
        "--env MODELYARD_STORE_URL=https://yard.internal",
    ),
    "pipeline start": (
        "modelyard pipeline start examples/credit_risk/pipeline.py:train --run-id-file run-id.txt",
    ),
    "pipeline step": (
        "modelyard pipeline step examples/credit_risk/pipeline.py:train train-model "
        "--run-id 1a2b3c4d",
    ),
    "pipeline trigger": (
        "modelyard pipeline trigger credit-risk-retrain --reason manual:drift-review",
        "modelyard pipeline trigger examples/credit_risk/pipeline.py:train "
        "--reason manual:resample "
        "-p rows=50000",
    ),
    "pipeline schedule": (
        "modelyard pipeline schedule credit-risk-retrain --every 1w",
        "modelyard pipeline schedule examples/credit_risk/pipeline.py:train --every 1d "
        "--max-runs 3",
    ),
    "pipeline register": (
        "modelyard pipeline register credit-risk-retrain examples/credit_risk/pipeline.py:train "
        "--on-alert credit-risk -p rows=50000",
    ),
    "pipeline list": ("modelyard pipeline list",),
    "users": (
        'modelyard users add "$(whoami)" --role admin --role developer  # the first admin',
        "modelyard users add vera --role validator",
    ),
    "users add": (
        'modelyard users add "$(whoami)" --role admin --role developer  # the first admin',
        "modelyard users add vera --role validator",
        "modelyard users add aaron --role approver --display-name 'Aaron Diaz'",
    ),
    "users list": ("modelyard users list",),
    "users roles": ("modelyard users roles vera --role validator --role viewer",),
    "users disable": ("modelyard users disable aaron",),
    "audit": ("modelyard audit verify", "modelyard audit log --subject model/credit-risk"),
    "audit log": (
        "modelyard audit log --limit 20",
        "modelyard audit log --subject model/credit-risk --json",
    ),
    "audit verify": (
        "modelyard audit verify",
        "modelyard audit verify --checkpoint audit-head.json",
    ),
    "audit checkpoint": ("modelyard audit checkpoint --to gs://bank-audit/modelyard-head.json",),
    "deployments": (
        "modelyard deployments apply deployment.yaml",
        "modelyard deployments list",
    ),
    "deployments apply": ("modelyard deployments apply deployment.yaml",),
    "deployments list": ("modelyard deployments list",),
    "deployments show": ("modelyard deployments show credit-risk",),
    "deployments delete": ("modelyard deployments delete credit-risk",),
    "deployments api-key": (
        "modelyard deployments api-key  # then: modelyard serve ... --api-key-hash HASH",
    ),
    "batch": (
        "modelyard batch score credit-risk@champion --input portfolio/ --output scores/",
        "modelyard batch list",
    ),
    "batch score": (
        "modelyard batch score credit-risk@champion --input portfolio/ --output scores/",
        "modelyard batch score credit-risk@champion -i 'gs://bank/loans/*.parquet' "
        "-o gs://bank/scores/ --engine spark",
        "modelyard batch score credit-risk/2 --input-dataset loans/3 -o scores/ "
        "--id-column loan_id",
        "modelyard batch score credit-risk@champion --engine spark --input-table lake.loans "
        "--output-table lake.loan_scores --id-column loan_id  # Spark catalog tables",
        "modelyard batch score credit-risk@champion --engine spark --input-jdbc "
        "jdbc:postgresql://db/loans --jdbc-table loans -o scores/  # MODELYARD_JDBC_* credentials",
        "modelyard batch score credit-risk@champion -i portfolio/ -o scores/ --explain 4  "
        "# top-4 adverse reasons per row",
    ),
    "batch status": ("modelyard batch status 1a2b3c4d",),
    "batch list": ("modelyard batch list", "modelyard batch list --model credit-risk --limit 5"),
    "monitor": (
        "modelyard monitor run credit-risk@champion --window 1d",
        "modelyard monitor report credit-risk@champion",
    ),
    "monitor run": (
        "modelyard monitor run credit-risk@champion --endpoint credit-risk --window 1d",
        "modelyard monitor run credit-risk@champion --data drifted.parquet --rules rules.yaml",
        "modelyard monitor run credit-risk@champion --since 2026-03-01 --until 2026-04-01 "
        "--step 1w",
    ),
    "monitor report": ("modelyard monitor report credit-risk@champion -o reports/",),
    "monitor reference": (
        "modelyard monitor reference credit-risk@champion  # from the training run's input",
        "modelyard monitor reference credit-risk/2 --data loans-train/1 --rebuild",
    ),
    "monitor watch": (
        "modelyard monitor watch credit-risk@champion --every 1h --window 1d",
        "modelyard monitor watch credit-risk@champion --every 15m --metrics-port 9108",
    ),
    "monitor results": (
        "modelyard monitor results credit-risk@champion",
        "modelyard monitor results credit-risk@champion --kind drift --limit 5",
    ),
    "monitor alerts": (
        "modelyard monitor alerts --model credit-risk --status firing",
        "modelyard monitor alerts credit-risk@champion",
    ),
    "tokens": (
        "modelyard tokens create --user vera --name laptop",
        "modelyard tokens list",
    ),
    "tokens create": (
        "modelyard tokens create --user vera --expires-in 90d",
        "VERA=$(modelyard tokens create --user vera --name laptop --secret-only)",
    ),
    "tokens list": ("modelyard tokens list", "modelyard tokens list --user vera"),
    "tokens revoke": ("modelyard tokens revoke 1a2b3c4d",),
    "deploy": (
        "modelyard deploy generate credit-risk@champion --target all -o deploy/credit-risk",
        "modelyard deploy ci credit-risk@champion --provider github -o .",
    ),
    "deploy generate": (
        "modelyard deploy generate credit-risk@champion --target all -o deploy/credit-risk",
        "modelyard deploy generate deployment.yaml --target kubernetes --canary credit-risk/3 "
        "--canary-weight 10 -o deploy/credit-risk",
    ),
    "deploy platform": ("modelyard deploy platform --project bank-ml --region europe-west2",),
    "deploy ci": (
        "modelyard deploy ci credit-risk@champion --provider github -o .",
        "modelyard deploy ci deployment.yaml --provider cloudbuild --project bank-ml -o .",
    ),
    "deploy known-answer": ("modelyard deploy known-answer credit-risk/3 -o known-answer.json",),
    "deploy wait-approvals": (
        "modelyard deploy wait-approvals credit-risk/3 --alias champion --timeout-s 86400",
    ),
    "deploy canary-check": (
        "modelyard deploy canary-check --prometheus http://prometheus:9090 "
        "--endpoint credit-risk --route canary --duration-s 600",
    ),
    "deploy ci-summary": (
        "modelyard deploy ci-summary result.json --title 'credit-risk candidate'",
    ),
}


def examples_for(path: str) -> tuple[str, ...]:
    """The example lines of the command at ``path`` (``"runs list"``); empty when none."""
    return EXAMPLES.get(path, ())
