"""nbgrader settings for the course. Edit only solutions/; `make exercises` writes exercises/."""

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

# hub/class.toml's [course] id (tests/test_kubernetes_config.py checks it), so a gradebook made
# here and the class hub name the same course.
c.CourseDirectory.course_id = "sidebyside"
# Instructors write solutions/NN-topic/NN-topic.ipynb; `nbgrader generate_assignment NN-topic`
# writes the student version to exercises/NN-topic/.
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
# Only notebooks and small data files belong to an assignment.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".DS_Store"]

# A cell may train a small model: nbgrader's default of 30 s per cell is too short on a slow
# laptop. A cell that runs longer than this is stopped and scores 0 with a timeout message.
c.Execute.timeout = 300
c.Execute.interrupt_on_timeout = True

# nbgrader scores a test cell 0 if it wrote anything to stderr. TensorFlow, absl, XLA and
# PyTorch write log lines and warnings there that are not the student's fault: drop those
# outputs before scoring. Tracebacks (errors) are unaffected.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = (
    r"(?m)^(?:[IWE]\d{4} \d\d:\d\d:\d\d"  # absl / glog lines: W0000 00:00:...
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] "  # TensorFlow C++ log lines
    r"|WARNING: All log messages before absl"
    r"|.*(?:UserWarning|DeprecationWarning|FutureWarning|RuntimeWarning):)"
)

# A student who deletes a test cell gets it back instead of silently losing its points.
c.OverwriteCells.add_missing_cells = True

# Feedback never shows the hidden tests, whoever generates it (`sidebyside grade`, the
# Formgrader's Generate Feedback button, `nbgrader generate_feedback`): nbgrader 0.9.6's own
# default keeps them in the HTML. The list is sidebyside.instructor.grading.report.FEEDBACK_PREPROCESSORS.
from sidebyside.instructor.grading.report import FEEDBACK_PREPROCESSORS  # noqa: E402

c.GenerateFeedback.preprocessors = list(FEEDBACK_PREPROCESSORS)

# Grading artifacts (gradebook.db, submitted/, autograded/, feedback/) are git-ignored.
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
