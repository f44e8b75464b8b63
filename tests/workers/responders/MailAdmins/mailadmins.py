#!/usr/bin/env python3
"""MailAdmins: a Mailer-like responder that sends nothing. For the TheHive entity it receives as
JSON data (case, alert, task or observable) it reports {"message": "asked <to> to block the
sender", "to": <to>, "subject": "[THEHIVE] Please block the sender of case <title>"} and asks
TheHive for the operations AddTagToCase "mail sent" and AddLogToTask "Mail admins asked to
block the sender (<to>)". The log operation also carries task=<config.task>: hive-service's
extension naming, by title, the task of the case that receives the log when the responder ran
on a case."""
from cortexutils.responder import Responder


class MailAdmins(Responder):
    def run(self):
        Responder.run(self)
        entity = self.get_data()
        title = entity.get("title", "") if isinstance(entity, dict) else ""
        self.to = self.get_param("config.to", "mail-admins@corp.example")
        self.task = self.get_param("config.task", "Block sender")
        self.report({
            "message": "asked %s to block the sender" % self.to,
            "to": self.to,
            "subject": "[THEHIVE] Please block the sender of case %s" % title,
        })

    def operations(self, raw):
        return [
            self.build_operation("AddTagToCase", tag="mail sent"),
            self.build_operation("AddLogToTask", task=self.task,
                                 content="Mail admins asked to block the sender (%s)" % self.to),
        ]


if __name__ == '__main__':
    MailAdmins().run()
