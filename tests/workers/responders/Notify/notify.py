#!/usr/bin/env python3
"""Notify: a Mailer-like responder that sends nothing. Reports {"message": "notified"} and the
operations AddTagToCase, AddLogToTask (owner = config.owner) and CreateTask (whose description
names the _id of the TheHive entity it received as JSON data)."""
from cortexutils.responder import Responder


class Notify(Responder):
    def run(self):
        Responder.run(self)
        entity = self.get_data()
        self.entity_id = entity.get("_id") if isinstance(entity, dict) else None
        self.owner = self.get_param("config.owner", "cortex")
        self.report({"message": "notified"})

    def operations(self, raw):
        return [
            self.build_operation("AddTagToCase", tag="notified"),
            self.build_operation("AddLogToTask", content="responder ran", owner=self.owner),
            self.build_operation("CreateTask", title="Follow-up",
                                 description="Follow-up of %s" % self.entity_id),
        ]


if __name__ == '__main__':
    Notify().run()
