"""One dynamic partition per project: a project is one source video into one target language."""

from dagster import DynamicPartitionsDefinition

PROJECTS = "projects"
projects_partitions = DynamicPartitionsDefinition(name=PROJECTS)
