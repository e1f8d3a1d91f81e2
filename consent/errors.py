from dataclasses import dataclass


class RuleViolation(Exception):
    """A write refused by the consent or provenance rules; `problems` are (field, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))


@dataclass(frozen=True, order=True)
class ImportProblem:
    row: int  # 1 is the first data row; 0 means the file as a whole
    field: str
    message: str

    def __str__(self):
        where = "file" if self.row == 0 else f"row {self.row}"
        if self.field:
            where += f", {self.field}"
        return f"{where}: {self.message}"


class ImportFailed(Exception):
    """An import that wrote nothing, with every problem found."""

    def __init__(self, problems: list[ImportProblem]):
        self.problems = sorted(problems)
        super().__init__(f"{len(self.problems)} problem(s); nothing was imported")
