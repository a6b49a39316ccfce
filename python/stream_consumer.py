# 流消费组模式: the third pattern, a Redis Stream read by a consumer group.
# Not in the article: written in its style, beside its consumer.py and
# subscriber.py, as the Rust in bin/stream_consumer.rs is read beside it.
# Run: REDIS_URL=redis://localhost:6379/1 python3 python/stream_consumer.py
import os
import socket
import time
import redis

CLAIM_IDLE = int(os.environ.get('CLAIM_IDLE_MS') or 10000)  # 取回闲置的消息
MAX_DELIVERIES = int(os.environ.get('MAX_DELIVERIES') or 3)  # 然后放入死信
FAIL_ON = os.environ.get('FAIL_ON', '')  # 练习用: 处理这个值总是失败
WORK_MS = int(os.environ.get('WORK_MS') or 0)  # 练习用: 打印后、确认前的处理时间


class Task(object):
    def __init__(self):
        self.rcon = redis.StrictRedis.from_url(os.environ.get('REDIS_URL', 'redis://localhost:6379/1'))
        self.stream = '{task:prodcons:queue}:stream'
        self.dead = '{task:prodcons:queue}:stream:dead'
        self.group = 'task:stream:group'
        self.name = os.environ.get('CONSUMER_NAME') or '%s-%d' % (socket.gethostname(), os.getpid())
        try:
            self.rcon.xgroup_create(self.stream, self.group, id='0', mkstream=True)
        except redis.ResponseError:  # BUSYGROUP: 消费组已存在
            pass

    def listen_task(self):
        start = '0'  # 先读自己领过却没确认的消息
        claimed = 0
        while True:
            if time.time() - claimed > CLAIM_IDLE / 4000:
                claimed = time.time()
                for entry_id, fields in self.rcon.xautoclaim(self.stream, self.group, self.name, CLAIM_IDLE, count=10)[1]:
                    self.handle(entry_id, fields, True)
            reply = self.rcon.xreadgroup(self.group, self.name, {self.stream: start}, count=10, block=2000)
            entries = reply[0][1] if reply else []
            if start != '>' and not entries:
                start = '>'
            for entry_id, fields in entries:
                self.handle(entry_id, fields, start != '>')
                if start != '>':
                    start = entry_id

    def handle(self, entry_id, fields, again):
        if not fields:  # 已被 MAXLEN 裁掉
            self.rcon.xack(self.stream, self.group, entry_id)
            return
        task = fields.get(b'elem')
        deliveries = self.rcon.xpending_range(self.stream, self.group, entry_id, entry_id, 1)[0]['times_delivered'] if again else 1
        if task is None or deliveries > MAX_DELIVERIES:
            why = 'no elem field' if task is None else 'delivered %d times' % deliveries
            self.rcon.xadd(self.dead, {'id': entry_id, 'elem': task or b'', 'why': why})
            self.rcon.xack(self.stream, self.group, entry_id)
            return
        if task.decode() == FAIL_ON:  # 处理失败: 不确认, 之后会被重新投递
            return
        print("Task get", task.decode(), flush=True)
        time.sleep(WORK_MS / 1000)
        self.rcon.xack(self.stream, self.group, entry_id)


if __name__ == '__main__':
    print('监听任务流', flush=True)
    Task().listen_task()
