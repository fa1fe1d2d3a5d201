"""The task queue in the admin: django-tasks-db's read-only list, plus a way
to run failed tasks again once what made them fail is mended."""

from django.contrib import admin, messages
from django.db.models import Q
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.admin import DBTaskResultAdmin
from django_tasks_db.models import DBTaskResult

admin.site.unregister(DBTaskResult)


@admin.register(DBTaskResult)
class TaskAdmin(DBTaskResultAdmin):
    list_display = (*DBTaskResultAdmin.list_display, "attempts", "exception_class_path")
    actions = ["retry"]

    @admin.display(description="attempts")
    def attempts(self, obj):
        return len(obj.worker_ids)

    def has_retry_permission(self, request):
        return request.user.has_perm("django_tasks_db.change_dbtaskresult")

    @admin.action(description="Run the selected failed tasks again", permissions=["retry"])
    def retry(self, request, queryset):
        """Failed tasks only: each is due now, with all its attempts again
        (the last error stays shown until the next attempt)."""
        retried = queryset.filter(status=TaskResultStatus.FAILED).update(
            status=TaskResultStatus.READY, run_after=timezone.now(), finished_at=None, worker_ids=[]
        )
        skipped = queryset.filter(~Q(status=TaskResultStatus.FAILED)).count()
        self.message_user(request, f"{retried} failed task(s) will run again.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{skipped} task(s) had not failed and were left alone.", messages.WARNING
            )
