"""The exit codes and Pipes messages of external lip-sync programs (described in full in
``retime_lipsync``): shared by the programs and by ``PipesLipSync``, which classifies exits."""

from __future__ import annotations

from dubbing_pipeline.domain.errors import JobErrorType

PROGRESS = "progress"  # report_custom_message({"progress": 0.4})
EXIT_CODE = "exit_code"  # report_custom_message({"exit_code": 2, "error": "reason"}), then exit 2
ERROR = "error"

EXIT_BAD_INPUT = 2
EXIT_SOFTWARE = 70  # sysexits EX_SOFTWARE: fails the same way every time
EXIT_TEMPFAIL = 75  # sysexits EX_TEMPFAIL: GPU busy, CUDA out of memory
EXIT_TIMEOUT = 124  # what coreutils `timeout` returns when the program overran

_TYPE_OF_EXIT = {
    EXIT_BAD_INPUT: JobErrorType.VALIDATION,
    EXIT_SOFTWARE: JobErrorType.PERMANENT,
    EXIT_TEMPFAIL: JobErrorType.RESOURCE,
    EXIT_TIMEOUT: JobErrorType.TIMEOUT,
    126: JobErrorType.PERMANENT,  # the program cannot be executed
    127: JobErrorType.PERMANENT,  # the program is not there
    137: JobErrorType.RESOURCE,  # SIGKILL: most often the kernel's out-of-memory killer
}
_EXIT_OF_TYPE = {
    JobErrorType.VALIDATION: EXIT_BAD_INPUT,
    JobErrorType.PERMANENT: EXIT_SOFTWARE,
    JobErrorType.RESOURCE: EXIT_TEMPFAIL,
    JobErrorType.TIMEOUT: EXIT_TIMEOUT,
    JobErrorType.TRANSIENT: 1,
}


def error_type_of_exit(code: int) -> JobErrorType:
    """The error class of a non-zero exit; a negative code (killed by signal N) counts as 128+N."""
    return _TYPE_OF_EXIT.get(128 - code if code < 0 else code, JobErrorType.TRANSIENT)


def exit_code_of(error_type: JobErrorType) -> int:
    return _EXIT_OF_TYPE[error_type]
