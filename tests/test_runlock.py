"""The lock-holder message is patched into Snakemake's LockException only where the class has
the no-argument __init__ this project was written against; elsewhere Snakemake's text stands."""

import snakemake.exceptions as smx
from snakemake.exceptions import WorkflowError

from benediff.runlock import name_holder_in_lock_error


def test_patches_a_no_argument_lock_error_and_names_the_holder():
    class LockLike(WorkflowError):
        def __init__(self):
            super().__init__("Directory cannot be locked.")

    assert name_holder_in_lock_error(LockLike, WorkflowError, "held by run 123 on host")
    assert "held by run 123 on host" in str(LockLike())


def test_leaves_a_lock_error_with_another_signature_alone():
    class LockWithArgs(WorkflowError):
        def __init__(self, path):
            super().__init__(f"cannot lock {path}")

    assert not name_holder_in_lock_error(LockWithArgs, WorkflowError, "held by run 123")
    assert str(LockWithArgs("/x")) == "cannot lock /x"


def test_the_installed_snakemake_still_has_the_patched_shape():
    """If this fails after a Snakemake upgrade, the holder is named only by our onstart check;
    adapt name_holder_in_lock_error to the new LockException."""
    import inspect

    assert list(inspect.signature(smx.LockException.__init__).parameters) == ["self"]
    assert issubclass(smx.LockException, WorkflowError)
