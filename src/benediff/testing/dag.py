"""Reading a Snakemake dry run in tests: the rule → job count of its 'Job stats' table."""


def job_counts(output: str) -> dict[str, int]:
    """Rule → job count from the 'Job stats' table of a dry run's output ({} when it plans
    nothing)."""
    counts, in_table = {}, False
    for line in output.splitlines():
        parts = line.split()
        if line.startswith("job ") and "count" in line:
            in_table = True
        elif in_table and len(parts) == 2 and parts[1].isdigit():
            if parts[0] == "total":
                break
            counts[parts[0]] = int(parts[1])
    return counts
