import pytest

from core.files import removed_unless_committed


def write(path, written):
    path.write_text("x")
    written.append(path)


def test_files_of_a_failed_service_are_removed(tmp_path):
    with pytest.raises(RuntimeError), removed_unless_committed() as written:
        write(tmp_path / "a", written)
        raise RuntimeError("the service failed")
    assert not (tmp_path / "a").exists()


def test_files_of_a_successful_service_stay(tmp_path):
    with removed_unless_committed() as written:
        write(tmp_path / "a", written)
    assert (tmp_path / "a").exists()


def test_a_failing_caller_removes_the_files_of_services_that_succeeded_inside_it(tmp_path):
    with pytest.raises(RuntimeError), removed_unless_committed():
        with removed_unless_committed() as inner:
            write(tmp_path / "inner", inner)
        assert (tmp_path / "inner").exists()
        raise RuntimeError("a later step of the caller failed")
    assert not (tmp_path / "inner").exists()
