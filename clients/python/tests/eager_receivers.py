"""A receiver for the eager-mode test: records the usernames of created users."""
import signalbus

created = []


@signalbus.receiver("post_save", sender="auth.User")
def remember_created_user(event):
    fields = event.model_save.instance.fields
    if event.model_save.created:
        created.append(fields["username"])
