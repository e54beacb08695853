"""Packaging beyond what pyproject.toml can say: the top-level ``templates/`` and
``migrations/`` folders travel in the wheel as package data of ``outreach._templates`` and
``outreach._migrations`` (see outreach/resources.py); the test fakes (tests/) stay out."""

from setuptools import find_packages, setup

DATA = ["*", "**/*"]

setup(
    packages=[
        *find_packages(include=["outreach", "outreach.*"]),
        "outreach._templates",
        "outreach._migrations",
    ],
    package_dir={
        "outreach._templates": "templates",
        "outreach._migrations": "migrations",
    },
    package_data={
        "outreach": [
            "static/*",
            "api/*.yaml",
            "campaigns/files/*.json",
            "staff/*.txt",
            "**/*.json",
            "**/*.yaml",
            "translations/*.pot",
            "translations/*/LC_MESSAGES/*",
        ],
        "outreach._templates": DATA,
        "outreach._migrations": DATA,
    },
    exclude_package_data={"": ["__pycache__/*", "*.pyc"]},
)
