"""One dynamic partition per project: a project is one source video into one target language."""

from dagster import DynamicPartitionsDefinition

from dubbing_pipeline.domain.projects import PARTITIONS

projects_partitions = DynamicPartitionsDefinition(name=PARTITIONS)
