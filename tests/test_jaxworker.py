"""The session's JAX worker (tests/jaxworker.py) on scripts that import nothing heavy: what a
test sees when its script fails or kills the worker, and that the next script gets a fresh
one. (The JAX tests themselves are in test_harness, test_engine_contract and the others.)"""

import pytest

from tests.jaxworker import JaxWorker


@pytest.fixture
def worker():
    worker = JaxWorker()  # its own, not the session's: these scripts retire it
    yield worker
    worker.close()


def test_a_script_runs_like_python_c_and_its_state_does_not_carry_over(worker):
    script = ("import json, os, sys\n"
              "seen = {'argv': sys.argv[1:], 'pid': os.getpid(), 'leftover': 'x' in globals(),"
              " 'env': os.environ.get('LEFT')}\n"
              "x = 1\nos.environ['LEFT'] = '1'\n"
              "print('RESULT' + json.dumps(seen))\n")
    first = worker.run(script, "a", 2)
    assert first["argv"] == ["a", "2"] and not first["leftover"] and first["env"] is None
    again = worker.run(script)
    assert again == {**first, "argv": []}  # the same process, nothing left by the first
    assert worker.run("print('no result')") is None


def test_a_failing_script_fails_its_test_with_the_traceback_and_retires_the_worker(worker):
    pid = worker.run("import json, os; print('RESULT' + json.dumps(os.getpid()))")
    said = r"(?s)on JAX:\nsaid\n.*raise ValueError.*: boom"  # its stderr, its line, the error
    with pytest.raises(pytest.fail.Exception, match=said):
        worker.run("import sys; print('said', file=sys.stderr); raise ValueError('boom')")
    assert worker.run("import json, os; print('RESULT' + json.dumps(os.getpid()))") != pid


def test_a_script_that_kills_the_worker_fails_its_test_and_the_next_gets_a_fresh_one(worker):
    with pytest.raises(pytest.fail.Exception, match=r"(?s)worker died .*exit status 3.*last"):
        worker.run("import os, sys; print('last words', file=sys.__stderr__, flush=True); "
                   "os._exit(3)")
    assert worker.run("print('RESULT' + '[1]')") == [1]
    with pytest.raises(pytest.fail.Exception, match="worker ran past 1 s"):
        worker.run("import time; time.sleep(60)", timeout=1)
    assert worker.run("print('RESULT' + '2')") == 2
