"""sidebyside.checks.own_work: an answer that runs the course's own implementation of its
task is caught however it reaches it, and an honest answer is left alone."""

from __future__ import annotations

import importlib
import sys
import threading
import types

import pytest

from sidebyside import checks, timing


def honest(fn):
    return [fn() for _ in range(3)]


def by_alias(fn):
    measure = timing.measure
    return measure(fn, repeat=1)


def by_getattr(fn):
    return getattr(timing, "mea" + "sure")(fn, repeat=1)


def by_importlib(fn):
    return importlib.import_module("sidebyside.timing").measure(fn, repeat=1)


CAPTURED = timing.measure  # a reference taken before the test starts


def by_captured_reference(fn):
    return CAPTURED(fn, repeat=1)


def by_copied_code(fn):
    code = timing.measure.__code__.replace(co_name="my_measure")
    clone = types.FunctionType(code, timing.measure.__globals__, "my_measure", timing.measure.__defaults__, None)
    clone.__kwdefaults__ = timing.measure.__kwdefaults__
    return clone(fn, repeat=1)


def in_a_thread(fn):
    out = []
    worker = threading.Thread(target=lambda: out.append(timing.measure(fn, repeat=1)))
    worker.start()
    worker.join()
    return out


def swallowing_the_error(fn):
    try:
        return timing.measure(fn, repeat=1)
    except BaseException:  # noqa: BLE001 - what a cheating answer would do
        return None


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize("answer", [by_alias, by_getattr, by_importlib, by_captured_reference, by_copied_code, in_a_thread, swallowing_the_error])
def test_delegating_answers_are_caught(answer):
    with pytest.raises(checks.DelegatedWork) as caught:
        with checks.own_work(timing.measure, task="timing"):
            answer(lambda: 1)
    assert "sidebyside.timing.measure" in str(caught.value), f"the message should name what ran, got {caught.value}"
    assert sys.getprofile() is None, f"the profile function must be removed afterwards, found {sys.getprofile()}"


def test_an_honest_answer_passes_and_may_use_other_helpers():
    with checks.own_work(timing.measure, task="timing"):
        result = honest(lambda: timing.Timing(first_call_s=1.0))
    assert len(result) == 3, f"the answer's own result should come back, got {result}"


def median_by_the_reference(fn):
    return timing.Timing(first_call_s=0.0, times_s=[fn(), fn()]).median_s


@pytest.mark.parametrize(("reference", "answer"), [(timing, by_alias), (timing.Timing, median_by_the_reference)], ids=["module", "class"])
def test_modules_and_classes_cover_their_functions(reference, answer):
    with pytest.raises(checks.DelegatedWork):
        with checks.own_work(reference):
            answer(lambda: 1.0)


def test_a_package_covers_the_functions_of_its_submodules():
    """``own_work(serving)``: serving is a package whose functions live in submodules
    (serving.measuring, serving.model_export, ...); calling any of them, through the package's
    name or the submodule's, is caught (full run at 48a7c52: 06's delegating answers kept their
    points once serving.py became a package)."""
    from sidebyside import serving
    from sidebyside.serving import measuring

    for call in (lambda: serving.latency_summary([0.1, 0.2], 1.0), lambda: measuring.latency_summary([0.1, 0.2], 1.0), lambda: serving.torch_predict_body([[0.0]])):
        with pytest.raises(checks.DelegatedWork, match="sidebyside.serving"):
            with checks.own_work(serving):
                call()


def test_an_answer_that_removes_the_profile_function_fails():
    with pytest.raises(checks.DelegatedWork, match="profile function"):
        with checks.own_work(timing.measure):
            sys.setprofile(None)


def test_a_previous_profile_function_is_put_back():
    def previous(frame, event, arg):
        return None

    sys.setprofile(previous)
    try:
        with checks.own_work(timing.measure):
            honest(lambda: 1)
        assert sys.getprofile() is previous, f"expected the earlier profile function back, got {sys.getprofile()}"
    finally:
        sys.setprofile(None)


def test_the_answers_own_errors_pass_through():
    with pytest.raises(ZeroDivisionError):
        with checks.own_work(timing.measure):
            _ = 1 / 0


def test_generated_code_of_a_referenced_class_does_not_catch_other_classes():
    """A dataclass's generated methods all come from "<string>": another dataclass built by an
    honest answer must not look like the reference's."""
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Mine:
        seconds: float

    with checks.own_work(timing, timing.Timing):
        made = {Mine(1.0), Mine(1.0)}
    assert len(made) == 1, f"expected two equal dataclass instances to hash alike, got {made}"
