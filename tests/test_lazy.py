import pytest

from seqarena.errors import ConfigError, DataError
from seqarena.lazy import require


def test_a_missing_optional_package_names_what_needs_it_and_what_to_install():
    with pytest.raises(ConfigError, match=r"^the ray executor runs on no_such_package, which is not installed: "
                                          r"pip install 'seqarena\[ray\]'$"):
        require("no_such_package.sub", "seqarena[ray]", "the ray executor runs on")


def test_require_raises_the_error_its_caller_names_and_returns_the_module_it_finds():
    with pytest.raises(DataError, match="task 'toy' reads its data from no_such_package"):
        require("no_such_package", "seqarena[data]", "task 'toy' reads its data from", DataError)
    assert require("json", "json", "the test needs").dumps([1]) == "[1]"
