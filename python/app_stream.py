# 流消费组模式的生产者: the route the Rust web adds for the stream lesson,
# written as the article would write it in its app.py, beside prodcons()
# and pubsub(). Not run by itself: the tests run python/stream_consumer.py
# against the Rust web, which serves this route.
stream = '{task:prodcons:queue}:stream'  # 流名称


@app.route('/stream')
def stream_add():
    elem = random.randrange(10)
    rcon.xadd(stream, {'elem': elem}, maxlen=1000, approximate=True)
    logging.info("xadd {} -- {}".format(stream, elem))
    return redirect('/')
