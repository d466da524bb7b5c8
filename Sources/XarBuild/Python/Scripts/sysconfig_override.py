

# Added by xarbuild (see docs/python.md, "A self-contained installation"): the image is its own installation,
# not a Linux distribution's /usr. Distributions patch this function to install into /usr/local/.../dist-packages,
# which is not on the image's sys.path; here packages belong in {base}/lib/pythonX.Y/site-packages, as CPython has
# it, and a virtual environment gets the 'venv' scheme from get_preferred_scheme.
def _get_preferred_schemes():
    return {'prefix': 'posix_prefix', 'home': 'posix_home', 'user': 'posix_user'}
