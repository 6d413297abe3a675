-- Every five minutes the worker removes the Storage objects of deleted rows (library assets,
-- chat attachments): SQL queues them (app_private.storage_cleanup_queue, see the library
-- migration), only the Storage API can delete them.
select cron.schedule('storage-cleanup', '*/5 * * * *', $$select app_private.request_worker('/v1/cron/storage/cleanup')$$);
