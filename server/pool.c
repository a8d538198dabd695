/* server/pool.c: the bounded worker pool.
 *
 * The loop thread submits jobs; a fixed number of threads run them; a full
 * queue refuses at once (the caller answers 503) rather than letting a
 * request wait past its deadline. Finished jobs go back on a second list and
 * one byte on a pipe wakes the loop (a full pipe is fine: the loop empties
 * the whole list whenever it wakes). The mutex guards both lists and is
 * never held across a verification. */
#include "server/server_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct srv_pool {
    struct srv_pool_cfg cfg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct srv_job *head, *tail; /* queued */
    size_t queued;
    struct srv_job *done_head, *done_tail;
    int stop;
    int wake[2];                 /* [0] the loop reads, [1] workers write */
    size_t n_threads;
    pthread_t *threads;
};

struct srv_job *srv_job_new(void)
{
    return calloc(1, sizeof(struct srv_job));
}

void srv_job_free(struct srv_job *j)
{
    if (j != NULL) {
        free(j->verdict);
        free(j->gk_value);
        free(j);
    }
}

static void run_job(const struct srv_pool_cfg *c, struct srv_job *j)
{
    struct atv_vfy_request rq;

    if (atv_vfy_clock_ms() >= j->deadline_ms) {
        /* waited in the queue past its deadline: an answer now is late anyway */
        j->expired = 1;
        return;
    }
    j->verdict = malloc(sizeof *j->verdict); /* atv_vfy_image_run fills all of it */
    if (j->verdict == NULL) {
        return;
    }
    memset(&rq, 0, sizeof rq);
    rq.subject = j->image;
    rq.params = c->params;
    rq.store = c->store;
    rq.now = j->now;
    rq.log = c->log;
    rq.deadline_ms = j->deadline_ms;
    rq.policy = j->pol->p;
    rq.vcache = j->vc.get != NULL ? &j->vc : NULL;
    atv_vfy_image_run(&rq, j->verdict);
    if (j->key[0] == 'v' && !(j->verdict->transient && !j->verdict->allowed)) {
        j->gk_value = srv_gk_value_text(j->verdict); /* NULL: the loop renders it */
    }
}

static void *worker(void *arg)
{
    struct srv_pool *p = arg;
    const char one = 1;

    for (;;) {
        struct srv_job *j;
        (void)pthread_mutex_lock(&p->mu);
        while (p->head == NULL && !p->stop) {
            (void)pthread_cond_wait(&p->cv, &p->mu);
        }
        if (p->stop) {
            (void)pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        j = p->head;
        p->head = j->next;
        if (p->head == NULL) {
            p->tail = NULL;
        }
        p->queued--;
        (void)pthread_mutex_unlock(&p->mu);

        j->next = NULL;
        run_job(&p->cfg, j);

        (void)pthread_mutex_lock(&p->mu);
        if (p->done_tail != NULL) {
            p->done_tail->next = j;
        } else {
            p->done_head = j;
        }
        p->done_tail = j;
        (void)pthread_mutex_unlock(&p->mu);
        /* a failure is EAGAIN: the pipe is full, so the loop is woken already */
        {
            ssize_t w = write(p->wake[1], &one, 1);
            (void)w;
        }
    }
}

enum atv_status srv_pool_new(const struct srv_pool_cfg *c, struct srv_pool **out,
                             struct atv_err *err)
{
    struct srv_pool *p = NULL;
    sigset_t block, old;
    enum atv_status rc = ATV_OK;
    size_t i;
    int e;

    *out = NULL;
    if (c == NULL || c->workers == 0 || c->workers > ATV_SRV_MAX_WORKERS || c->queue_cap == 0 ||
        c->params == NULL || c->store == NULL) {
        return atv_err_set(err, ATV_E_USAGE, "srv_pool_new: bad configuration");
    }
    p = calloc(1, sizeof *p);
    if (p == NULL) {
        return atv_err_set(err, ATV_E_NOMEM, "server: out of memory");
    }
    p->cfg = *c;
    p->wake[0] = p->wake[1] = -1;
    (void)pthread_mutex_init(&p->mu, NULL);
    (void)pthread_cond_init(&p->cv, NULL);
    if (pipe(p->wake) != 0 || fcntl(p->wake[0], F_SETFL, O_NONBLOCK) != 0 ||
        fcntl(p->wake[1], F_SETFL, O_NONBLOCK) != 0 || fcntl(p->wake[0], F_SETFD, FD_CLOEXEC) != 0 ||
        fcntl(p->wake[1], F_SETFD, FD_CLOEXEC) != 0) {
        rc = atv_err_set(err, ATV_E_IO, "server: pipe: %s", strerror(errno));
        goto out;
    }
    p->threads = calloc(c->workers, sizeof *p->threads);
    if (p->threads == NULL) {
        rc = atv_err_set(err, ATV_E_NOMEM, "server: out of memory");
        goto out;
    }
    /* signals are the loop's: workers never take them */
    (void)sigemptyset(&block);
    (void)sigaddset(&block, SIGTERM);
    (void)sigaddset(&block, SIGINT);
    (void)sigaddset(&block, SIGPIPE);
    (void)pthread_sigmask(SIG_BLOCK, &block, &old);
    for (i = 0; i < c->workers; i++) {
        e = pthread_create(&p->threads[i], NULL, worker, p);
        if (e != 0) {
            rc = atv_err_set(err, ATV_E_NOMEM, "server: worker %zu of %u: %s", i + 1, c->workers,
                             strerror(e));
            break;
        }
        p->n_threads++;
    }
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
out:
    if (rc != ATV_OK) {
        (void)srv_pool_free(p); /* no job was submitted yet */
        return rc;
    }
    *out = p;
    return ATV_OK;
}

int srv_pool_fd(const struct srv_pool *p)
{
    return p->wake[0];
}

int srv_pool_submit(struct srv_pool *p, struct srv_job *j, size_t extra)
{
    int ok = 0;
    (void)pthread_mutex_lock(&p->mu);
    if (!p->stop && p->queued < p->cfg.queue_cap + extra) {
        j->next = NULL;
        if (p->tail != NULL) {
            p->tail->next = j;
        } else {
            p->head = j;
        }
        p->tail = j;
        p->queued++;
        ok = 1;
        (void)pthread_cond_signal(&p->cv);
    }
    (void)pthread_mutex_unlock(&p->mu);
    return ok;
}

struct srv_job *srv_pool_expire(struct srv_pool *p, uint64_t now_ms)
{
    struct srv_job *out = NULL, **tail = &out, **pp, *last = NULL;
    (void)pthread_mutex_lock(&p->mu);
    pp = &p->head;
    while (*pp != NULL) {
        struct srv_job *j = *pp;
        if (j->deadline_ms <= now_ms) {
            *pp = j->next;
            p->queued--;
            j->expired = 1;
            j->next = NULL;
            *tail = j;
            tail = &j->next;
        } else {
            last = j;
            pp = &j->next;
        }
    }
    p->tail = last;
    (void)pthread_mutex_unlock(&p->mu);
    return out;
}

struct srv_job *srv_pool_take_done(struct srv_pool *p)
{
    char buf[256];
    struct srv_job *j;
    while (read(p->wake[0], buf, sizeof buf) > 0) {
    }
    (void)pthread_mutex_lock(&p->mu);
    j = p->done_head;
    p->done_head = p->done_tail = NULL;
    (void)pthread_mutex_unlock(&p->mu);
    return j;
}

struct srv_job *srv_pool_free(struct srv_pool *p)
{
    struct srv_job *left;
    size_t i;
    if (p == NULL) {
        return NULL;
    }
    (void)pthread_mutex_lock(&p->mu);
    p->stop = 1;
    (void)pthread_cond_broadcast(&p->cv);
    (void)pthread_mutex_unlock(&p->mu);
    for (i = 0; i < p->n_threads; i++) {
        (void)pthread_join(p->threads[i], NULL);
    }
    /* queued jobs first, then finished ones: one list for the caller */
    left = p->head;
    if (p->tail != NULL) {
        p->tail->next = p->done_head;
    } else {
        left = p->done_head;
    }
    if (p->wake[0] >= 0) {
        (void)close(p->wake[0]);
    }
    if (p->wake[1] >= 0) {
        (void)close(p->wake[1]);
    }
    (void)pthread_cond_destroy(&p->cv);
    (void)pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
    return left;
}
