import seqlab.debug as debug


def test_checks_context_restores_previous_setting():
    before = debug.enabled()
    with debug.checks(True):
        assert debug.enabled()
        with debug.checks(False):
            assert not debug.enabled()
        assert debug.enabled()
    assert debug.enabled() == before
