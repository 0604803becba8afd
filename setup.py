from setuptools import find_packages, setup

setup(
    name="intercom_assets",
    packages=find_packages(exclude=["intercom_assets_tests"]),
    # the dbt project of the support metrics, and workspaces declared inside the package
    # (intercom_assets/defs/<workspace>/defs.yaml), travel with it
    package_data={"intercom_assets.metrics": ["dbt_project/*.yml", "dbt_project/.gitignore",
                                              "dbt_project/models/**/*", "dbt_project/macros/*"],
                  "intercom_assets": ["defs/*/defs.yaml"]},
    install_requires=[
        "dagster>=1.13.27,<1.14",
        "dagster-webserver>=1.13.27,<1.14",
        "requests>=2.32,<3",
        "pandas>=2.2,<4",
        "pyarrow>=17,<27",
        "universal-pathlib>=0.2.6,<0.4",
        "fsspec>=2024.6",
        # INTERCOM_PII_POLICY files (line numbers in errors come from its node marks)
        "PyYAML>=6,<7",
        # the support metrics: a dbt project over the lake (intercom_assets/metrics/), run by dagster-dbt
        "dagster-dbt>=0.29.27,<0.30",
        "dbt-core>=1.10,<1.12",
        "dbt-duckdb>=1.10,<1.12",
        "duckdb>=1.3,<3",
    ],
    # Exact versions tested: requirements/constraints.txt (`make lock` writes it from this file, all extras).
    extras_require={
        # INTERCOM_PARQUET_ROOT=s3://...
        "s3": ["s3fs>=2024.6"],
        # deploy/dagster.yaml: run, event-log and schedule storage in PostgreSQL
        "postgres": ["dagster-postgres>=0.29.27,<0.30"],
        # deploy/helm/values.yaml: K8sRunLauncher (also installed in the run image)
        "k8s": ["dagster-k8s>=0.29.27,<0.30"],
        # the `dg` CLI (dg list defs, dg check defs, dg dev) over the IntercomWorkspace YAML files
        "dg": ["dagster-dg-cli>=1.13.27,<1.14"],
        "dev": [
            "pytest>=8,<10",
            "hypothesis>=6.100,<7",
            "openapi-core>=0.19,<0.24",
            "ruff>=0.6,<0.18",
            "psutil>=5.9,<8",
            "pytest-xdist>=3.5,<4",
            "s3fs>=2024.6",
            "moto[server]>=5,<6",
            "boto3>=1.34",
            "dagster-postgres>=0.29.27,<0.30",
            "dagster-k8s>=0.29.27,<0.30",
            "dagster-dg-cli>=1.13.27,<1.14",
        ],
    },
    # `dg list components` lists intercom_assets.IntercomWorkspace
    entry_points={"dagster_dg_cli.registry_modules": ["intercom_assets = intercom_assets"]},
    python_requires=">=3.11,<3.14",
)
