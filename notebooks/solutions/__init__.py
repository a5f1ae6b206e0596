"""Reference solutions of the notebooks' exercises: keep this folder back when handing out notebooks.

One module per notebook (``nb03`` for notebook 3), one function per exercise, named as in
the stub the notebook gives; ``tests/test_exercises.py`` checks that each passes its
``check``. See :mod:`tinygrad_edu.exercises`.
"""
